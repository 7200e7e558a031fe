"""init: what is installed (providers, backends, the Python packages the configuration's
providers and frameworks need) and whether the configuration can use it.

A package that is missing (or older than mlrt's extras ask) is an error on the first block
that needs it, with the exact `pip install` line that fixes it, so the first plan does not
find out at apply (`ModuleNotFoundError: No module named 'xgboost'`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

from rich.markup import escape

from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostics
from ..errors import MlrtError
from ..packages import Package, missing_message, needed_by
from ..plan.project import Project, provider_checks
from ..provider import ProviderInfo, discover_providers
from ..state import discover_backends
from ..values import is_known, unmark
from .console import Out
from .diagnostics_view import diagnostics_json, print_diagnostics
from .session import open_project_for


@dataclass
class _Need:
    package: Package
    users: list[ResourceInstance] = field(default_factory=list)


def _attached(project: Project, provider_key: str) -> bool:
    pc = project.provider_configs.get(provider_key)
    address = pc.attributes.get("address") if pc is not None else None
    return address is not None and is_known(address)


def package_needs(project: Project, instances: list[ResourceInstance]) -> list[_Need]:
    """Every package the configuration's resources need here, with who needs it."""
    needs: dict[str, _Need] = {}
    for inst in instances:
        provider = inst.provider.split(".")[0]
        framework, _ = unmark(inst.attributes.get("framework")) if inst.type == "training" else (None, ())
        for pkg in needed_by(provider, framework, _attached(project, inst.provider)):
            needs.setdefault(pkg.name, _Need(pkg)).users.append(inst)
    return sorted(needs.values(), key=lambda n: n.package.name)


def package_diagnostics(needs: list[_Need]) -> Diagnostics:
    diags = Diagnostics()
    for need in needs:
        if need.package.ok:
            continue
        summary, detail = missing_message(need.package)
        who = ", ".join(u.address for u in need.users[:5]) + (" ..." if len(need.users) > 5 else "")
        diags.add_error(summary, f"Needed by {who}. {detail}", need.users[0].range)
    return diags


def cmd_init(args: argparse.Namespace, out: Out) -> int:
    providers = discover_providers()
    backends = discover_backends()
    project = open_project_for(args)
    ev, diags = project.evaluate()
    diags.extend(provider_checks(project, ev.instances))
    needs = package_needs(project, ev.instances)
    diags.extend(package_diagnostics(needs))
    (project.project_dir / ".mlrt").mkdir(exist_ok=True)
    if out.json_mode:
        out.json(
            {
                "providers": {k: {"version": _version(v), "module": v.module} for k, v in providers.items()},
                "backends": sorted(backends),
                "packages": {
                    n.package.name: {
                        "installed": n.package.installed,
                        "required": n.package.requirement,
                        "ok": n.package.ok,
                        "needed_by": [u.address for u in n.users],
                    }
                    for n in needs
                },
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
    if needs:
        out.print(
            f"Python packages this configuration needs (Python {sys.version.split()[0]}, {escape(sys.executable)}):"
        )
        for n in needs:
            mark = "" if n.package.ok else "[red]"
            end = "" if n.package.ok else "[/]"
            users = ", ".join(u.address for u in n.users[:3]) + (" ..." if len(n.users) > 3 else "")
            out.print(
                f"  - {mark}{escape(n.package.name)} {escape(n.package.state())}{end} "
                f"(mlrt needs {escape(n.package.requirement)}; used by {escape(users)})"
            )
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
