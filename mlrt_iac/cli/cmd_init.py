"""init: what is installed (providers, backends) and whether the configuration can use it."""

from __future__ import annotations

import argparse

from rich.markup import escape

from ..errors import MlrtError
from ..plan.project import provider_checks
from ..provider import ProviderInfo, discover_providers
from ..state import discover_backends
from .console import Out
from .diagnostics_view import diagnostics_json, print_diagnostics
from .session import open_project_for


def cmd_init(args: argparse.Namespace, out: Out) -> int:
    providers = discover_providers()
    backends = discover_backends()
    project = open_project_for(args)
    ev, diags = project.evaluate()
    diags.extend(provider_checks(project, ev.instances))
    (project.project_dir / ".mlrt").mkdir(exist_ok=True)
    if out.json_mode:
        out.json(
            {
                "providers": {k: {"version": _version(v), "module": v.module} for k, v in providers.items()},
                "backends": sorted(backends),
                **diagnostics_json(diags),
            }
        )
        return 1 if diags.has_errors else 0
    out.print("[bold]Initializing mlrt...[/]")
    out.print()
    out.print("Providers found (entry point group mlrt.providers):")
    for name, info in sorted(providers.items()):
        out.print(f"  - {name} v{_version(info)} ({escape(info.module)})")
    out.print("Backends found (entry point group mlrt.backends):")
    for name in sorted(backends):
        out.print(f"  - {name}")
    used = sorted({i.provider for i in ev.instances})
    out.print(f"Providers used by this configuration: {', '.join(used) or 'none'}")
    if diags.has_errors:
        print_diagnostics(out, diags, project.config.sources, project.project_dir)
        return 1
    out.print()
    out.print("[bold green]mlrt has been successfully initialized![/]")
    return 0


def _version(info: ProviderInfo) -> str:
    """The provider's version, or why it cannot be loaded (init is where a broken one shows)."""
    try:
        return info.version
    except MlrtError as exc:
        return f"? ({exc.summary})"
