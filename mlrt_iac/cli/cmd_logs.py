"""`mlrt logs ADDRESS [-f] [-since 10m] [-instance N] [-tail N] [-json]`: a workload's logs.

The address must be in the state (a training's last run, a service's instances); the provider
that made it reads the logs where it keeps them (local files, Ray job and replica logs,
Kubernetes pod logs). Each line is printed as ``[source] text`` (``-json``: one JSON object per
line, ``{"source", "text"}``). ``-f`` follows new lines until the workload ends (a training) or
Ctrl-C (a service); reading logs takes no state lock and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime

from rich.markup import escape

from ..errors import MlrtError
from ..provider import LogQuery, LogReader
from .console import Out
from .session import backend_for, open_project_for, read_state


def parse_since(text: str, now: float | None = None) -> float:
    """`10m`, `2h`, `30s`, `1d` (that long ago) or an ISO 8601 time -> a Unix time."""
    now = time.time() if now is None else now
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m:
        return now - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise MlrtError(
            f"Invalid -since value {text!r}",
            "Give a duration such as 30s, 10m, 2h or 1d, or a time such as 2026-11-29T09:00:00Z.",
        ) from None


def cmd_logs(args: argparse.Namespace, out: Out) -> int:
    if args.tail is not None and args.tail < 0:
        raise MlrtError("Invalid -tail value", "Give the number of lines to show, 0 or more.")
    query = LogQuery(
        follow=args.follow,
        since=parse_since(args.since) if args.since else None,
        instance=args.instance,
        tail=args.tail,
    )
    project = open_project_for(args)
    doc = read_state(backend_for(project))
    resource = doc.get(args.address)
    if resource is None:
        known = [r.address for r in doc.resources if r.type in ("training", "service")]
        raise MlrtError(
            f"No {args.address} in the state",
            "Logs are shown for trainings and services mlrt has made. "
            + (
                f"In the state: {', '.join(known)}." if known else "The state has none yet: run `mlrt apply`."
            ),
        )
    handler = project.provider(resource.provider).handler(resource.type)
    if not isinstance(handler, LogReader):
        raise MlrtError(
            f"{args.address} has no logs",
            f'Provider "{resource.provider}" keeps no logs for {resource.type} resources; '
            "logs are shown for trainings and services.",
        )
    ctx = project.context().for_resource(args.address)
    ctx.private = dict(resource.private or {})
    cancel = ctx.cancel
    restore = _cancel_on_interrupt(cancel) if args.follow else None
    try:
        for line in handler.logs(ctx, resource.id, dict(resource.attributes), query):
            if out.json_mode:
                sys.stdout.write(json.dumps({"source": line.source, "text": line.text}) + "\n")
                sys.stdout.flush()
            else:
                out.print(f"[dim]\\[{escape(line.source)}][/] {escape(line.text)}")
    finally:
        if restore is not None:
            restore()
        project.close()
    return 0


def _cancel_on_interrupt(cancel: threading.Event) -> Callable[[], None] | None:
    """While following, the first Ctrl-C ends the command cleanly; a second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigint(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    old = signal.signal(signal.SIGINT, on_sigint)

    def restore() -> None:
        signal.signal(signal.SIGINT, old)

    return restore
