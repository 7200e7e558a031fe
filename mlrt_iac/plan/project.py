"""A project: one configuration directory, its providers and its state backend (the session
object of one command; not a Terraform workspace, which is a named state).

Everything that plan and apply need besides their options is reached through it, so both stay
functions of their inputs. Providers and backends are found through entry points; the engine
never imports the `providers` or `state` packages.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, EvaluatedConfig, gather_variable_inputs, load_config
from ..config.instances import ProviderConfig, ResourceInstance, Settings
from ..config.variables import auto_var_files
from ..diagnostics import Diagnostics, redact
from ..errors import DiagnosticsError, MlrtError
from ..graph import evaluate
from ..model import validate_instances
from ..provider import Provider, ProviderContext, ProviderInfo, discover_providers
from ..state.workspace import DEFAULT_WORKSPACE, current_workspace
from ..values import sensitive_strings


@dataclass
class Project:
    project_dir: Path
    config: Config
    inputs: dict[str, Any]
    cli_vars: list[str] = field(default_factory=list)
    var_files: list[str] = field(default_factory=list)
    registry: dict[str, ProviderInfo] = field(default_factory=dict)
    _providers: dict[str, Provider] = field(default_factory=dict)
    provider_configs: dict[str, ProviderConfig] = field(default_factory=dict)
    ctx: ProviderContext | None = None
    _settings: Settings | None = None
    # Every sensitive string an evaluation has seen (variables, attributes): diagnostics are
    # redacted by them before they leave plan or validate.
    secrets: set[str] = field(default_factory=set)
    # The workspace (named state) this command works in: which state the backend reads, and
    # what `terraform.workspace` / `mlrt.workspace` evaluate to.
    workspace: str = DEFAULT_WORKSPACE

    @property
    def data_dir(self) -> Path:
        return self.project_dir / ".mlrt"

    def context(self) -> ProviderContext:
        if self.ctx is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.ctx = ProviderContext(project_dir=self.project_dir, data_dir=self.data_dir)
        return self.ctx

    def evaluate(self, resolver: Any = None, targets: Any = None) -> tuple[EvaluatedConfig, Diagnostics]:
        ev, diags = evaluate(
            self.config, self.inputs, resolver=resolver, targets=targets, workspace=self.workspace
        )
        for key, pc in ev.providers.items():
            self.provider_configs.setdefault(key, pc)
        sensitive_strings(ev.variables, found=self.secrets)
        for inst in ev.instances:
            sensitive_strings(inst.attributes, found=self.secrets)
        return ev, redact(diags, self.secrets)

    def settings(self) -> Settings:
        """The `mlrt { }` block (backend, default provider), evaluated without any resource."""
        if self._settings is None:
            ev, diags = evaluate(self.config, self.inputs, settings_only=True, workspace=self.workspace)
            if diags.has_errors:
                raise DiagnosticsError(diags)
            self._settings = ev.settings
            for key, pc in ev.providers.items():
                self.provider_configs.setdefault(key, pc)
        return self._settings

    def provider(self, key: str) -> Provider:
        """The configured provider for `local`, `ray`, `ray.big`; configured on first use."""
        if key in self._providers:
            return self._providers[key]
        name, _, alias = key.partition(".")
        if not self.registry:
            self.registry = discover_providers()
        if name not in self.registry:
            raise MlrtError(
                f'Provider "{name}" is not installed',
                f"Installed providers: {', '.join(sorted(self.registry)) or 'none'}. "
                "Run `mlrt init` to list what is available.",
            )
        p = self.registry[name].factory()
        p.alias = alias or None
        pc = self.provider_configs.get(key)
        diags = p.configure(dict(pc.attributes) if pc else {}, self.context())
        if diags.has_errors:
            raise DiagnosticsError(diags)
        self._providers[key] = p
        return p

    def close(self) -> None:
        for p in self._providers.values():
            p.close()


def config_hash(config: Config) -> str:
    """A hash of every source file of the configuration (root and modules)."""
    h = hashlib.sha256()
    for name in sorted(config.sources):
        h.update(name.encode())
        h.update(b"\0")
        h.update(config.sources[name].encode())
        h.update(b"\0")
    return h.hexdigest()


def open_project(
    project_dir: Path,
    cli_vars: list[str] | None = None,
    var_files: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    inputs: dict[str, Any] | None = None,
    workspace: str | None = None,
) -> Project:
    """Load the configuration and gather variables; raise DiagnosticsError on any problem.

    `workspace` defaults to the project's current one (`.mlrt/environment`, `MLRT_WORKSPACE`).
    """
    project_dir = project_dir.resolve()
    if workspace is None:
        workspace = current_workspace(project_dir, environ)
    config, diags = load_config(project_dir, cache_dir=project_dir / ".mlrt" / "cache")
    if diags.has_errors:
        raise DiagnosticsError(diags)
    if inputs is None:
        inputs, vdiags = gather_variable_inputs(
            config,
            list(cli_vars or []),
            [Path(f) for f in var_files or []],
            environ if environ is not None else os.environ,
            auto_var_files(project_dir),
        )
        if vdiags.has_errors:
            raise DiagnosticsError(vdiags)
    return Project(
        project_dir, config, inputs, list(cli_vars or []), list(var_files or []), workspace=workspace
    )


def validate_project(project: Project) -> tuple[EvaluatedConfig, dict[str, Any], Diagnostics]:
    """Evaluate with unknown computed values, validate every block, run cross-block checks.

    This is `mlrt validate`: no state, no provider calls beyond `validate`.
    """
    ev, diags = project.evaluate()
    models, mdiags = validate_instances(ev.instances, ev.providers)
    diags.extend(mdiags)
    diags.extend(checks_after_walk(project, ev.instances, models, ev.providers.values()))
    return ev, models, redact(diags, project.secrets)


def checks_after_walk(
    project: Project, instances: list[ResourceInstance], models: Mapping[str, Any], providers: Any
) -> Diagnostics:
    """What needs every instance at once: cross-block checks and provider availability."""
    from ..model import cross_check
    from ..model.families import build_catalog

    diags = cross_check(instances, dict(models), build_catalog(providers))
    diags.extend(provider_checks(project, instances))
    return diags


def provider_checks(project: Project, instances: list[ResourceInstance]) -> Diagnostics:
    """Every block's provider must be installed and support its type."""
    diags = Diagnostics()
    if not project.registry:
        project.registry = discover_providers()
    for inst in instances:
        name = inst.provider.split(".")[0]
        info = project.registry.get(name)
        if info is None:
            diags.add_error(
                f'Provider "{name}" is not installed',
                f'{inst.address} uses provider "{inst.provider}", which is not registered. '
                f"Installed: {', '.join(sorted(project.registry)) or 'none'}.",
                inst.range,
            )
            continue
        if inst.provider != name and inst.provider not in project.provider_configs:
            diags.add_error(
                f'Provider configuration "{inst.provider}" is not declared',
                f'Add `provider "{name}" {{ alias = "{inst.provider.split(".", 1)[1]}" }}` '
                f"or change the provider of {inst.address}.",
                inst.range,
            )
    return diags
