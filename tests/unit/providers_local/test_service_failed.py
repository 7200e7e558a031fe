"""A local service whose instance stopped on its own reads as FAILED with its cause (issue 12,
item 5), not as deleted: the refresh reports status "FAILED" and status_message (the last error
lines of its instance log), and the plan updates it in place with the cause next to `status`.
Real processes: a dead instance with its log, and (slow) a real crash-looping inference server
through `mlrt apply` / `mlrt plan`."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.cli.main import main
from mlrt_iac.provider import ProviderContext, ReadRequest
from providers.kit.processes import ProcessRef
from providers.local import LocalProvider
from providers.local.service import ServiceHandler

CRASH_LOG = """\
2026-11-29 10:00:00,000 INFO mlrt.serving: instance 2-0 ready on http://127.0.0.1:9 (1 workers, model m)
2026-11-29 10:00:01,000 WARNING mlrt.serving: worker 0 exited with code 3; starting a new one
2026-11-29 10:00:02,000 ERROR mlrt.serving: worker 0 could not load the model: model_class "sizer:Sizer": Making the model object failed with RuntimeError: the weights are corrupt
2026-11-29 10:00:02,100 WARNING mlrt.serving: worker 0 exited with code 3; starting a new one
2026-11-29 10:00:03,000 ERROR mlrt.serving: workers crashed 6 times in 60s; stopping the instance
2026-11-29 10:00:04,000 ERROR mlrt.serving: worker 0 could not load the model: again
2026-11-29 10:00:05,000 ERROR mlrt.serving: workers crashed 6 times in 60s; stopping the instance
"""


def _handler(make_provider: Callable[..., LocalProvider]) -> ServiceHandler:
    handler = make_provider().handler("service")
    assert isinstance(handler, ServiceHandler)
    return handler


def _dead_instance(ctx: ProviderContext, name: str, log: str | None) -> None:
    """The record of generation 2 with one instance that has exited, and its log."""
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    d = ctx.data_dir / "services" / name
    d.mkdir(parents=True, exist_ok=True)
    record = {"port": 9, "pids": [ProcessRef.of(exited.pid).to_json()], "generation": 2}
    (d / "processes.json").write_text(json.dumps(record))
    if log is not None:
        (d / "instance-2-0.log").write_text(log)
        (d / "instance-1-0.log").write_text("ERROR an older generation's error, not this one's\n")


def test_a_stopped_instance_reads_failed_with_the_last_error_lines(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider]
) -> None:
    handler = _handler(make_provider)
    _dead_instance(ctx, "api", CRASH_LOG)
    _dead_instance(ctx, "quiet", "starting\nbye\n")
    prior = {"name": "api", "endpoint": "http://127.0.0.1:9", "status": "READY", "suspended": False}
    got = handler.read(ctx.for_resource("service.api"), "api", prior).attributes
    assert got is not None and got["status"] == "FAILED"
    assert {k: v for k, v in got.items() if k != "status_message"} == {**prior, "status": "FAILED"}
    message = got["status_message"]
    assert message.startswith("1 of 1 instance stopped; last errors in its log:\n")
    assert message.splitlines()[1:] == [
        'ERROR mlrt.serving: worker 0 could not load the model: model_class "sizer:Sizer": Making the '
        "model object failed with RuntimeError: the weights are corrupt",
        "ERROR mlrt.serving: worker 0 could not load the model: again",
        "ERROR mlrt.serving: workers crashed 6 times in 60s; stopping the instance (2 times)",
    ]  # in the order of their last occurrence: the last line is what stopped it
    assert "older generation" not in message

    quiet = handler.read(ctx.for_resource("service.quiet"), "quiet", {**prior, "name": "quiet"}).attributes
    assert quiet is not None and quiet["status"] == "FAILED"
    assert quiet["status_message"].endswith(
        "last errors in its log:\nstarting\nbye"
    )  # no error line: the tail

    # read_many (one scan, one process table) says the same; a service whose folder is gone is
    # deleted, and a suspended one is as it was
    requests = [
        ReadRequest(ctx.for_resource(f"service.{n}"), n, {**prior, "name": n, "suspended": n == "paused"})
        for n in ("api", "quiet", "gone")
    ]
    many = [r if isinstance(r, Exception) else r.attributes for r in handler.read_many(ctx, requests).results]
    assert many == [got, quiet, None]


def test_the_plan_restarts_a_failed_service_in_place_with_its_cause(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider]
) -> None:
    handler = _handler(make_provider)
    c = ctx.for_resource("service.api")
    desired = {"name": "api", "compute_pool": "cpu", "model": "m", "max_queue": 4, "suspended": False}
    failed = {**desired, "endpoint": "http://127.0.0.1:9", "status": "FAILED", "status_message": "x\nboom"}
    diff = handler.diff(c, failed, desired)
    assert diff.changed == ["status"] and diff.requires_replace == []
    assert diff.reasons == {"status": "restarts the failed service (boom)"}
    assert handler.plan_computed(c, desired, failed) == {"status": "READY"}
    assert handler.plan_computed(c, desired, None) == {"status_message": None}
    # a config change rides along; a suspended one stays stopped; a READY one has nothing to do
    assert handler.diff(c, failed, {**desired, "max_queue": 8}).changed == ["max_queue", "status"]
    assert handler.diff(c, failed, {**desired, "suspended": True}).changed == ["suspended"]
    assert handler.diff(c, {**failed, "status": "READY", "status_message": None}, desired).changed == []


# --- a real crash loop -------------------------------------------------------------------------

SIZER = """
import os
from pathlib import Path


class Sizer:
    def load(self, model_dir):
        broken = Path(model_dir) / "BROKEN"
        if broken.exists():
            raise RuntimeError("the weights are corrupt: " + broken.read_text())

    def predict(self, frame):
        return [len(frame)] * len(frame)

    def crash(self, frame):
        os._exit(3)
"""

HCL = """
compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

service "api" {
  compute_pool   = compute_pool.cpu
  model          = "model"
  model_class    = "sizer:Sizer"
  functions      = ["predict", "crash"]
  num_workers    = 1
  max_batch_rows = 4
}
"""


def _post(url: str, rows: list[list[Any]]) -> tuple[int, Any]:
    req = urllib.request.Request(
        url, data=json.dumps({"data": rows}).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
    except (urllib.error.URLError, ConnectionError) as e:  # the worker died mid-request
        return 0, str(e)


def _mlrt(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str]:
    code = main(["-chdir", str(project), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _state(project: Path) -> dict[str, Any]:
    doc = json.loads((project / ".mlrt" / "state" / "mlrt.state.json").read_text())
    return {r["address"]: r["attributes"] for r in doc["resources"]}


@pytest.mark.slow
def test_a_crash_looping_service_plans_as_failed_with_its_cause_and_apply_restarts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "proj"
    (project / "model").mkdir(parents=True)
    meta = {"framework": "custom", "input_cols": ["x"], "input_dtypes": {"x": "float64"}}
    (project / "model" / "metadata.json").write_text(json.dumps(meta))
    (project / "sizer.py").write_text(SIZER)
    (project / "main.hcl").write_text(HCL)
    try:
        code, text = _mlrt(capsys, project, "apply", "-auto-approve", "-no-color")
        assert code == 0, text
        urls = _state(project)["service.api"]["functions_urls"]
        # max_batch_rows = 4 reaches the server: 10 rows are calls of 4, 4 and 2, one answer
        assert _post(urls["predict"], [[i, float(i)] for i in range(10)]) == (
            200,
            {"data": [[i, 4 if i < 8 else 2] for i in range(10)]},
        )
        record = json.loads((project / ".mlrt" / "services" / "api" / "processes.json").read_text())
        supervisor = ProcessRef.from_json(record["pids"][0])
        assert supervisor is not None and supervisor.alive()

        # the weights go bad, a worker dies: every restart fails to load, the supervisor gives up
        (project / "model" / "BROKEN").write_text("checksum mismatch")
        assert _post(urls["crash"], [[0, 1.0]])[0] in (0, 500, 502)
        deadline = time.monotonic() + 120
        while supervisor.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not supervisor.alive(), "the supervisor did not give up on its crashing workers"

        code, text = _mlrt(capsys, project, "plan", "-no-color", "-detailed-exitcode")
        assert code == 2, text
        assert "# service.api has changed" in text and "has been deleted" not in text
        assert 'status = "READY" -> "FAILED"' in text
        assert "workers crashed 6 times in 60s; stopping the instance" in text
        assert "RuntimeError: the weights are corrupt: checksum mismatch" in text
        assert "# service.api will be updated in-place" in text and "will be created" not in text
        assert re.search(r'~ status += "FAILED" -> "READY" # restarts the failed service \(ERROR', text), text
        assert "(5 times)" in text  # the repeated load error once, with its count
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in text

        # fixed: apply restarts it on the same endpoint
        (project / "model" / "BROKEN").unlink()
        code, text = _mlrt(capsys, project, "apply", "-auto-approve", "-no-color")
        assert code == 0, text
        after = _state(project)["service.api"]
        assert after["status"] == "READY" and after["status_message"] is None
        assert after["functions_urls"] == urls
        assert _post(urls["predict"], [[7, 1.0]]) == (200, {"data": [[7, 1]]})
        code, text = _mlrt(capsys, project, "plan", "-no-color", "-detailed-exitcode")
        assert code == 0, text
    finally:
        _mlrt(capsys, project, "destroy", "-auto-approve", "-no-color")


def test_an_instance_alive_but_not_answering_reads_failed(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider]
) -> None:
    handler = _handler(make_provider)
    hung = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        d = ctx.data_dir / "services" / "hung"
        d.mkdir(parents=True)
        (d / "processes.json").write_text(
            json.dumps({"port": 9, "pids": [ProcessRef.of(hung.pid).to_json()], "generation": 1})
        )
        (d / "instance-1-0.log").write_text(
            "Traceback (most recent call last):\nMemoryError: out of memory\n"
        )
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            endpoint = f"http://127.0.0.1:{s.getsockname()[1]}"
        prior = {"name": "hung", "endpoint": endpoint, "status": "READY", "suspended": False}
        got = handler.read(ctx.for_resource("service.hung"), "hung", prior).attributes
        assert got is not None and got["status"] == "FAILED"
        assert got["status_message"] == (
            f"The instances run but {endpoint}/health does not answer; last errors in its log:\n"
            "MemoryError: out of memory"
        )
    finally:
        assert hung.stdin is not None
        hung.stdin.close()
        hung.wait(timeout=10)
