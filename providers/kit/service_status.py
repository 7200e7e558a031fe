"""A service that a refresh finds FAILED (stopped on its own, or its platform says it cannot run):
the plan brings it back with an in-place update, the cause shown next to `status`.

Each provider's `read` reports such a service with `status = "FAILED"` and `status_message` (the
cause: the last error lines of its instances' logs, or the platform's message) instead of reading
it as deleted; its `diff` passes through `restart_failed`, so `mlrt plan` shows

    ~ status = "FAILED" -> "READY" # restarts the failed service (the cause's last line)

and `mlrt apply` starts it again (the update path: same endpoint, same port).
"""

from __future__ import annotations

from collections.abc import Collection

from mlrt_iac.provider import Attributes, DiffResult

FAILED = "FAILED"
REASON_CHARS = 300  # of the cause shown in the plan


def service_diff(
    prior: Attributes, desired: Attributes, computed: Collection[str], replace: Collection[str]
) -> DiffResult:
    """A service's diff on every provider: changed arguments (computed ones aside), those in the
    provider's `replace` set forcing replacement, and a restart when it read FAILED."""
    changed = sorted(k for k, v in desired.items() if k not in computed and prior.get(k) != v)
    result = DiffResult(changed=changed, requires_replace=[k for k in changed if k in replace])
    return restart_failed(result, prior, desired)


def restart_failed(result: DiffResult, prior: Attributes, desired: Attributes) -> DiffResult:
    """`result` plus a change of `status` when the service read FAILED and is not to be
    suspended (a suspended service stays stopped: nothing to restart)."""
    if prior.get("status") != FAILED or desired.get("suspended"):
        return result
    message = str(prior.get("status_message") or "").strip()
    last = message.splitlines()[-1].strip() if message else "it stopped"
    if len(last) > REASON_CHARS:
        last = last[: REASON_CHARS - 3] + "..."
    result.changed = sorted({*result.changed, "status"})
    result.reasons.setdefault("status", f"restarts the failed service ({last})")
    return result


def planned_status(desired: Attributes, prior: Attributes | None) -> Attributes:
    """Computed values known at plan time: a create has no status_message (its status is known
    after apply); an update ends READY (or SUSPENDED). An update keeps the prior status_message
    in the plan (the cause is in the drift note and next to `status`; apply clears it)."""
    if prior is None:
        return {"status_message": None}
    return {"status": "SUSPENDED" if desired.get("suspended") else "READY"}
