"""Provider plan checks (`PlanChecker`, `PlanWideChecker`) turned into located diagnostics.

Providers know what the files and the target allow (a data file's columns, a machine's
budget) but not where the configuration says it; the engine knows the source ranges. A
`Finding` names an address and an attribute path, and this module puts it on that line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostic, Diagnostics
from ..model.errors_map import attr_range
from ..provider import Attributes, Finding, PlanChecker, PlannedResource, PlanWideChecker, ProviderContext
from .model import ResourceChange
from .project import Project


def located(finding: Finding, inst: ResourceInstance | None) -> Diagnostic:
    rng = attr_range(inst, finding.path) if inst is not None else None
    return Diagnostic(finding.severity, finding.summary, finding.detail, rng)


def finding_diagnostics(
    handler: object, ctx: ProviderContext, desired: Attributes, inst: ResourceInstance
) -> Diagnostics:
    """The handler's plan checks of one resource the plan changes (none without the capability)."""
    diags = Diagnostics()
    if isinstance(handler, PlanChecker):
        for f in handler.plan_checks(ctx, desired):
            diags.append(located(f, inst))
    return diags


def plan_wide_checks(
    project: Project, changes: Sequence[ResourceChange], instances: Mapping[str, ResourceInstance]
) -> Diagnostics:
    """Each loaded provider's checks over all of its planned resources (deletes included)."""
    diags = Diagnostics()
    by_provider: dict[str, list[PlannedResource]] = {}
    for ch in changes:
        attrs = ch.after if ch.after is not None else ch.before
        by_provider.setdefault(ch.provider, []).append(
            PlannedResource(ch.address, ch.type, ch.action, dict(attrs or {}))
        )
    for key, planned in sorted(by_provider.items()):
        try:
            provider = project.provider(key)
        except Exception:  # not loadable: provider_checks already said so
            continue
        if not isinstance(provider, PlanWideChecker):
            continue
        for f in provider.check_plan(project.context(), planned):
            diags.append(located(f, instances.get(f.address)))
    return diags
