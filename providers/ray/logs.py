"""`mlrt logs` on Ray: a training's job log, a service's Serve replica logs.

A training is one Ray job: its log (driver and every Ray Train worker, prefixed by Ray with the
worker's pid) comes from the Jobs API (`GET /api/jobs/<id>/logs`); Ray keeps one log per job, so
`-instance` does not apply. Following polls that log and ends when the job has ended.

A service's replicas are the actors of its Serve deployment; their output comes from the state
API's log endpoint (`/api/v0/logs/file`, by actor id), stdout then stderr (where the inference
server logs), each replica numbered in the order of its actor name. Following streams each
replica's files (`/api/v0/logs/stream`) until Ctrl-C; replicas started after `mlrt logs` began
(a rolling update) are not picked up: run it again.

`-since` is applied to lines that start with a timestamp (the inference server's own lines); a
job's undated lines are all shown unless the job ended before `since`.
"""

from __future__ import annotations

import queue
import re
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import LogLine, LogQuery, ProviderContext
from mlrt_iac.runtime.events import decode_marker, describe_marker
from providers.kit.logs import line_time

from .client import Dashboard

POLL_S = 1.0
DONE = ("SUCCEEDED", "FAILED", "STOPPED")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_RAY_MARKS = (":job_id:", ":actor_name:", ":task_name:", ":task_attempt_start", ":task_attempt_end")
_WORKER_PREFIX = re.compile(r"^(\([^)]*\) )")


def _readable(line: str) -> str:
    """A job log line as a person reads it: Ray's colour codes dropped, and mlrt's own event
    markers (progress, final metrics) written as the local provider's worker logs write them."""
    line = _ANSI.sub("", line)
    m = _WORKER_PREFIX.match(line)
    prefix, rest = (m.group(1), line[m.end() :]) if m else ("", line)
    payload = decode_marker(rest)
    return prefix + describe_marker(payload) if payload is not None else line


def _filtered(source: str, text: str, query: LogQuery) -> list[LogLine]:
    lines = [_readable(line) for line in text.splitlines() if not line.startswith(_RAY_MARKS)]
    if query.since is not None:
        kept, when = [], None
        for line in lines:
            when = line_time(line) or when
            if when is None or when >= query.since:
                kept.append(line)
        lines = kept
    if query.tail is not None:
        lines = list(deque(lines, maxlen=query.tail))
    return [LogLine(source, line) for line in lines]


def job_logs(ctx: ProviderContext, dash: Dashboard, job_id: str, query: LogQuery) -> Iterator[LogLine]:
    if query.instance is not None:
        raise PermanentError(
            "-instance does not apply to a training on Ray",
            "Ray keeps one log per job, with every Ray Train worker's lines in it (prefixed by "
            "the worker's pid). Leave out -instance.",
        )
    info = dash.job_info(job_id)
    if info is None:
        raise PermanentError(
            f"Ray has no job {job_id} for {ctx.address}",
            f"The cluster at {dash.url} no longer knows the job (the cluster was restarted, or "
            "the job was deleted), and its log went with it.",
        )
    ended = info.get("end_time")
    if query.since is not None and ended and float(ended) / 1000 < query.since:
        return
    text = dash.job_logs(job_id)
    end = text.rfind("\n") + 1
    yield from _filtered("job", text[:end], query)
    if not query.follow:
        return
    seen = end
    while True:
        info = dash.job_info(job_id) or {}
        finished = info.get("status") in DONE
        text = dash.job_logs(job_id)
        if len(text) < seen:  # not the log we were reading: start over
            seen = 0
        stop = len(text) if finished else text.rfind("\n") + 1
        for line in text[seen:stop].splitlines():
            yield LogLine("job", _readable(line))
        seen = max(seen, stop)
        if finished or ctx.cancel.wait(POLL_S):
            return


def replicas(dash: Dashboard, app: str, deployment: str) -> list[dict[str, Any]]:
    """The deployment's live replica actors, ordered by actor name."""
    resp = dash.request(
        "GET",
        "/api/v0/actors",
        params={
            "limit": 1000,
            "detail": "false",
            "filter_keys": "class_name",
            "filter_predicates": "=",
            "filter_values": f"ServeReplica:{app}:{deployment}",
        },
        timeout=15.0,
    )
    if resp.status_code != 200:
        raise PermanentError(f"The Ray state API at {dash.url} answered {resp.status_code}", resp.text[:300])
    rows = resp.json().get("data", {}).get("result", {}).get("result", [])
    alive = [r for r in rows if r.get("state") == "ALIVE"]
    return sorted(alive, key=lambda r: str(r.get("name") or r.get("actor_id")))


def _file(dash: Dashboard, actor_id: str, suffix: str, lines: int) -> str:
    resp = dash.request(
        "GET",
        "/api/v0/logs/file",
        params={"actor_id": actor_id, "suffix": suffix, "lines": lines},
        timeout=30.0,
    )
    if resp.status_code != 200:
        return ""
    return resp.text


def service_logs(
    ctx: ProviderContext, dash: Dashboard, app: str, deployment: str, query: LogQuery
) -> Iterator[LogLine]:
    found = replicas(dash, app, deployment)
    if not found:
        raise PermanentError(
            f"{ctx.address} has no running replica on Ray",
            f"The Serve application {app!r} at {dash.url} has no live replica of {deployment}: "
            "it is deleted, suspended or still starting. `mlrt plan` shows its state.",
        )
    chosen = list(enumerate(found))
    if query.instance is not None:
        if not 0 <= query.instance < len(found):
            raise PermanentError(
                f"{ctx.address} has no replica {query.instance}",
                f"It has {len(found)} running (0 to {len(found) - 1}).",
            )
        chosen = [chosen[query.instance]]
    lines = query.tail if query.tail is not None else 100_000
    if query.follow:  # each stream starts with the file's last `lines` lines
        yield from _stream(ctx, dash, [(i, str(a["actor_id"])) for i, a in chosen], lines, query.since)
        return
    for index, actor in chosen:
        for suffix in ("out", "err"):
            text = _file(dash, str(actor["actor_id"]), suffix, lines)
            yield from _filtered(f"replica {index}", text[: text.rfind("\n") + 1], query)


def _stream(
    ctx: ProviderContext, dash: Dashboard, actors: list[tuple[int, str]], last: int, since: float | None
) -> Iterator[LogLine]:
    """Every replica's stdout and stderr, from their last `last` lines on, as new lines come,
    until Ctrl-C."""
    import httpx

    lines: queue.Queue[LogLine] = queue.Queue()

    def pump(index: int, actor_id: str, suffix: str) -> None:
        params: dict[str, str | float] = {
            "actor_id": actor_id,
            "suffix": suffix,
            "lines": last,
            "interval": 0.5,
        }
        when: float | None = None
        try:
            with httpx.Client(base_url=dash.url, headers=dash.headers, timeout=None) as client:
                with client.stream("GET", "/api/v0/logs/stream", params=params) as resp:
                    for line in resp.iter_lines():
                        if ctx.cancel.is_set():
                            return
                        if line.startswith(_RAY_MARKS):
                            continue
                        when = line_time(line) or when
                        if since is not None and when is not None and when < since:
                            continue
                        lines.put(LogLine(f"replica {index}", _readable(line)))
        except httpx.HTTPError:
            return  # the replica went away (or the cluster did): its stream ends

    for index, actor_id in actors:
        for suffix in ("out", "err"):
            threading.Thread(target=pump, args=(index, actor_id, suffix), daemon=True).start()
    while not ctx.cancel.is_set():
        try:
            yield lines.get(timeout=0.2)
        except queue.Empty:
            continue
    while True:  # what arrived before Ctrl-C
        try:
            yield lines.get_nowait()
        except queue.Empty:
            return
