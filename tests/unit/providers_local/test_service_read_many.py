"""Local services' `read_many`: one scan of the services folder and one process-table read give
what `read` gives for each service (a live healthy server, a dead one (FAILED), a suspended one,
one that never existed). Real processes and a real /health endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from mlrt_iac.provider import ProviderContext, ReadRequest
from providers.kit.processes import ProcessRef
from providers.local import LocalProvider
from providers.local.service import ServiceHandler


def _record(ctx: ProviderContext, name: str, pids: list[int], port: int) -> None:
    """processes.json as create writes it: each process with its identity (pid, start, boot)."""
    d = ctx.data_dir / "services" / name
    d.mkdir(parents=True, exist_ok=True)
    refs = [ProcessRef.of(p).to_json() for p in pids]
    (d / "processes.json").write_text(json.dumps({"port": port, "pids": refs, "generation": 1}))


def test_read_many_agrees_with_read(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider], server: tuple[int, int]
) -> None:
    pid, port = server
    handler = make_provider().handler("service")
    assert isinstance(handler, ServiceHandler)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    endpoint = f"http://127.0.0.1:{port}"
    _record(ctx, "up", [pid], port)
    _record(ctx, "dead", [dead.pid], port)
    _record(ctx, "paused", [], 0)
    cases: dict[str, dict[str, Any]] = {
        "up": {"name": "up", "endpoint": endpoint, "suspended": False},
        "dead": {"name": "dead", "endpoint": endpoint, "suspended": False},
        "paused": {"name": "paused", "endpoint": None, "suspended": True},
        "never": {"name": "never", "endpoint": endpoint, "suspended": False},
    }
    requests = [ReadRequest(ctx.for_resource(f"service.{n}"), n, prior) for n, prior in cases.items()]
    batch = handler.read_many(ctx, requests)
    many = [r if isinstance(r, Exception) else r.attributes for r in batch.results]
    one = [handler.read(r.ctx, r.id, r.prior).attributes for r in requests]
    assert many == one
    assert many[0] == {**cases["up"], "status": "READY", "status_message": None}
    # an instance that exited is FAILED with a cause, not deleted (test_service_failed.py)
    dead_read = many[1]
    assert isinstance(dead_read, dict) and dead_read["status"] == "FAILED"
    assert dead_read["status_message"].startswith("1 of 1 instance stopped")
    assert many[2:] == [cases["paused"], None]
