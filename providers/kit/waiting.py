"""Waiting that honours the operation's deadline (`ctx.deadline`, from `timeouts { }`) and Ctrl-C.

A handler's own limit (a pool's `scale_timeout_secs`, a service's readiness limit) still
applies; whichever ends first wins, and running past `ctx.deadline` is a DeadlineExceeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mlrt_iac.errors import DeadlineExceeded, PermanentError
from mlrt_iac.provider import ProviderContext


def seconds_left(ctx: ProviderContext, own_limit: float) -> float:
    """Seconds a wait may take: its own limit, lowered to what the deadline leaves."""
    return min(max(own_limit, 0.0), ctx.remaining(own_limit))


def deadline_binds(ctx: ProviderContext, own_limit: float) -> bool:
    """Whether `ctx.deadline` comes before `own_limit` seconds from now."""
    return ctx.deadline is not None and ctx.remaining(own_limit) < own_limit


def exceeded(ctx: ProviderContext, what: str, detail: str = "") -> DeadlineExceeded:
    """The error for a wait that `ctx.deadline` cut short."""
    return DeadlineExceeded(
        f"Timed out waiting for {what}",
        (detail + " " if detail else "")
        + "Raise the resource's `timeouts { create / update / delete }` if it needs longer.",
    )


def wait_for(
    ctx: ProviderContext,
    ready: Callable[[], bool],
    what: str,
    own_limit: float,
    *,
    interval: float = 0.25,
    on_wait: Callable[[float], None] | None = None,
) -> bool:
    """Poll `ready()` until it is true (True), or `own_limit` passes (False). Raises
    DeadlineExceeded when `ctx.deadline` passes first and PermanentError on Ctrl-C."""
    started = time.monotonic()
    binds = deadline_binds(ctx, own_limit)
    end = started + seconds_left(ctx, own_limit)
    while True:
        if ready():
            return True
        now = time.monotonic()
        if now >= end:
            if binds:
                raise exceeded(ctx, what)
            return False
        if ctx.cancel.is_set():
            raise PermanentError(f"Cancelled while waiting for {what}")
        if on_wait is not None:
            on_wait(now - started)
        time.sleep(min(interval, max(end - now, 0.0)))
