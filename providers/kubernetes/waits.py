"""Polling the cluster until an object is ready or gone, bounded by a deadline.

Every wait ends at a `time.monotonic()` deadline: the resource's `ctx.deadline` (from its
`timeouts { }`, else the engine's default) or, for a handler called outside the engine, the
provider's `ready_timeout_secs`. Running out raises `DeadlineExceeded`; a Ctrl-C (`ctx.cancel`)
raises PermanentError. Operations are never retried here (a RetryableError from a create or a
delete goes up to the engine, the one owner of retries); but a status poll that fails
transiently (429, 5xx, a dropped connection) is simply polled again at the next interval, so
one bad answer during a two-hour training does not throw the submitted run away.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from clients.kubernetes import KubeClient, ObjRef
from mlrt_iac.errors import DeadlineExceeded, PermanentError, RetryableError
from mlrt_iac.provider import ProviderContext

Obj = dict[str, Any]
Check = Callable[[Obj], "str | None"]  # "" ready, None not yet, anything else: why it failed


def deadline_of(ctx: ProviderContext, fallback_secs: float) -> float:
    """The instant the current operation must finish by."""
    return ctx.deadline if ctx.deadline is not None else time.monotonic() + fallback_secs


def _pause(ctx: ProviderContext, deadline: float, interval: float, what: str) -> None:
    """Sleep one poll interval, never past the deadline; stop early on Ctrl-C."""
    if ctx.cancel.wait(max(0.0, min(interval, deadline - time.monotonic()))):
        raise PermanentError(f"Cancelled while waiting for {what}", "The run was interrupted.")


def wait_ready(
    ctx: ProviderContext,
    client: KubeClient,
    ref: ObjRef,
    deadline: float,
    interval: float,
    check: Check,
    describe: Callable[[Obj], str],
) -> Obj:
    """Poll `ref` until `check` says ready (""), failed (a message) or the deadline passes."""
    start = time.monotonic()
    while True:
        try:
            obj = client.get(ref)
        except RetryableError as exc:
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(
                    f"Timed out waiting for {ref} to be ready",
                    f"The last status read failed: {exc.summary}. Check the cluster.",
                ) from exc
            ctx.progress(f"{ref}: status read failed ({exc.summary}); polling again")
            _pause(ctx, deadline, max(interval, exc.delay), str(ref))
            continue
        if obj is None:
            raise PermanentError(
                f"{ref} disappeared while mlrt was waiting for it",
                "Something deleted it out of band. Run apply again to recreate it.",
            )
        verdict = check(obj)
        if verdict == "":
            return obj
        if verdict is not None:
            raise PermanentError(f"{ref} failed", verdict)
        elapsed = time.monotonic() - start
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(
                f"Timed out waiting for {ref} to be ready after {elapsed:.0f}s",
                f"Last status: {describe(obj)}. Raise the resource's `timeouts {{ create / update }}` "
                "if it needs longer, or check the cluster (kubectl describe).",
            )
        ctx.progress(f"{ref}: {describe(obj)} [{elapsed:.0f}s elapsed]")
        _pause(ctx, deadline, interval, str(ref))


def wait_gone(
    ctx: ProviderContext, client: KubeClient, ref: ObjRef, deadline: float, interval: float
) -> None:
    """Poll `ref` until the API server answers 404 or the deadline passes."""
    start = time.monotonic()
    while client.get(ref) is not None:
        elapsed = time.monotonic() - start
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(
                f"Timed out waiting for {ref} to be deleted after {elapsed:.0f}s",
                "It still exists (a finalizer may be blocking it). Check `kubectl describe` of "
                "the object, then run destroy again, or raise the resource's `timeouts { delete }`.",
            )
        ctx.progress(f"waiting for {ref} to be deleted [{elapsed:.0f}s elapsed]")
        _pause(ctx, deadline, interval, f"{ref} to be deleted")
