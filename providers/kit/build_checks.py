"""Plan-time checks of what a workload installs, on every provider.

- `pip_requirements` must parse as pip parses them: a bad line is a plan error on its element.
- Snowflake's rule for package downloads: a build (or a Ray job's `pip`) fetches packages only
  through an external access integration whose network rules allow the package index's hosts.
  The index is the one pip's own configuration names (`mlrt_iac.images.index_hosts`); a local
  index (`PIP_NO_INDEX`, `file:` URLs) needs no egress. An integration whose `effective_egress`
  is not known at plan time (its provider computes it at apply) is not judged here.
- Where the workload runs in this Python environment (the local provider), nothing is
  installed: its `pip_requirements` must already be satisfied here, and the plan says which
  are not.
"""

from __future__ import annotations

from importlib import metadata

from mlrt_iac.model.netrules import missing_hosts
from mlrt_iac.provider import Attributes, Finding, ProviderContext
from mlrt_iac.values import is_known

PIP_HELP = 'Write each as pip does: a name, optional [extras] and version specifiers ("scikit-learn>=1.4").'


def requirement_list(desired: Attributes) -> list[str] | None:
    """The known requirement strings, or None while any is unknown."""
    reqs = desired.get("pip_requirements")
    if not isinstance(reqs, list) or not is_known(reqs):
        return None
    return [str(r) for r in reqs]


def requirement_findings(desired: Attributes) -> list[Finding]:
    """An error on each `pip_requirements` element pip could not parse."""
    reqs = requirement_list(desired)
    if not reqs:
        return []
    from mlrt_iac.images import validate_requirements

    return [
        Finding(
            "error", f"Invalid pip requirement {reqs[i]!r}", f"{why}. {PIP_HELP}", ("pip_requirements", i)
        )
        for i, why in validate_requirements(reqs)
    ]


def _names(value: object) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str) and v]
    return []


def egress_findings(ctx: ProviderContext, desired: Attributes, field: str, what: str) -> list[Finding]:
    """An error when `what` (a build, a Ray job's pip install) needs the package index and the
    integrations named by `field` do not allow all of its hosts."""
    from mlrt_iac.images import index_hosts

    index, hosts = index_hosts()
    if not hosts:
        return []
    names = _names(desired.get(field))
    where = f"the package index {index}" if index else "the package index"
    if not names:
        return [
            Finding(
                "error",
                f"{what} needs the package index, but no integration allows it",
                f"It installs Python packages from {where}, which needs egress to "
                f"{', '.join(hosts)}. Set {field} to an external_access_integration whose "
                "network rules allow those hosts (as Snowflake requires for package downloads).",
                (field,),
            )
        ]
    granted: list[str] = []
    known = {r.name: r for r in ctx.related_of("external_access_integration")}
    for name in names:
        eai = known.get(name)
        if eai is None:
            return []  # not managed here (or not yet resolvable): the apply decides
        if eai.attributes.get("enabled") is False:
            return [
                Finding(
                    "error",
                    f'External access integration "{name}" is disabled',
                    f"{what} installs Python packages through it. Set enabled = true on it.",
                    (field,),
                )
            ]
        egress = eai.attributes.get("effective_egress")
        if not isinstance(egress, list) or not is_known(egress):
            return []
        granted.extend(str(e) for e in egress)
    lacking = missing_hosts(granted, hosts)
    if not lacking:
        return []
    which = ", ".join(f'"{n}"' for n in names)
    return [
        Finding(
            "error",
            f"External access integration {which} does not allow the package index",
            f"{what} installs Python packages from {where}, which needs egress to "
            f"{', '.join(hosts)}; {which} lacks {', '.join(lacking)}. Add a network rule with "
            "those hosts to its allowed_network_rules.",
            (field,),
        )
    ]


def unsatisfied_findings(desired: Attributes, who: str) -> list[Finding]:
    """For work that runs in this Python environment: an error naming each requirement that is
    not installed here at a version it accepts (nothing is installed for it)."""
    from packaging.requirements import InvalidRequirement, Requirement

    reqs = requirement_list(desired)
    if not reqs:
        return []
    out: list[Finding] = []
    for i, text in enumerate(reqs):
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # requirement_findings reports it
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            have = None
        if have is not None and req.specifier.contains(have, prereleases=True):
            continue
        state = "is not installed" if have is None else f"is {have} here"
        out.append(
            Finding(
                "error",
                f"Python package {req.name} {state}",
                f"{who} runs in this Python environment, which installs nothing for it: "
                f"{text!r} must already be satisfied. Run: pip install '{text}'",
                ("pip_requirements", i),
            )
        )
    return out
