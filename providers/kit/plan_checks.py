"""A training's plan-time checks, in the order a user would fix them: the framework package,
then the data, then the entrypoint (an import check is the costliest, so it runs last and only
when the rest passed). Where the training runs elsewhere (an attached Ray cluster), the
framework and the entrypoint's imports are that cluster's business and are not checked here."""

from __future__ import annotations

from mlrt_iac.packages import framework_package, missing_message
from mlrt_iac.provider import Attributes, Finding, ProviderContext
from mlrt_iac.values import is_known

from .build_checks import egress_findings, requirement_findings, requirement_list, unsatisfied_findings
from .data_checks import dataset_findings
from .entrypoint_check import entrypoint_findings


def package_findings(ctx: ProviderContext, framework: object) -> list[Finding]:
    """An error on `framework` when its package is missing (or too old) here."""
    if not isinstance(framework, str):
        return []
    pkg = framework_package(framework, f"{ctx.address} (framework = {framework!r})")
    if pkg is None or pkg.ok:
        return []
    summary, detail = missing_message(pkg)
    return [Finding("error", summary, detail, ("framework",))]


def training_findings(
    ctx: ProviderContext, desired: Attributes, runs_here: bool, installs: bool = False
) -> list[Finding]:
    """`installs`: the provider installs the training's pip_requirements (a Ray job's `pip`,
    an image build), so they are fetched through its integrations; otherwise they run in this
    Python environment and must already be satisfied here."""
    framework = desired.get("framework")
    out = package_findings(ctx, framework) if runs_here else []
    out.extend(requirement_findings(desired))
    if not out and requirement_list(desired):
        if installs:
            out.extend(
                egress_findings(ctx, desired, "external_access_integrations", f"{ctx.address}'s pip install")
            )
        else:
            out.extend(unsatisfied_findings(desired, ctx.address))
    out.extend(dataset_findings(ctx, desired))
    entrypoint = desired.get("entrypoint")
    # On an attached Ray cluster the code imports there, with that cluster's packages.
    if runs_here and not out and isinstance(entrypoint, str) and is_known(entrypoint) and ":" in entrypoint:
        out.extend(entrypoint_findings(ctx.address, entrypoint, ctx.project_dir))
    return out
