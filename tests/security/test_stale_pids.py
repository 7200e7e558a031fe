"""Stale pids in mlrt's records never reach another program (issue 15, item 4).

After mlrt or the machine was killed, a pid in `.mlrt/services/*/processes.json` or
`.mlrt/runs/*/launcher.pid` may name an unrelated process by the time the next apply runs. Each
test plants such a record pointing at a victim of the test's own (a `sleep` in its own session,
so its group id is its pid, as the recorded processes' are) and checks the victim survives every
path that used to signal it; the controls check that mlrt's own processes are still stopped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlrt_iac.provider import ProviderContext
from providers.kit.processes import ProcessRef, stop_groups
from providers.local import LocalProvider
from providers.local.service import ServiceHandler
from providers.local.training import TrainingHandler


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "120"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def ctx(tmp_path: Path) -> ProviderContext:
    return ProviderContext(project_dir=tmp_path, data_dir=tmp_path / ".mlrt")


def _gone_within(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _record_service(ctx: ProviderContext, entry: object) -> None:
    d = ctx.data_dir / "services" / "api"
    d.mkdir(parents=True)
    (d / "processes.json").write_text(json.dumps({"port": 1, "pids": [entry], "generation": 1}))


@pytest.mark.parametrize("form", ["bare pid", "pid with another start time"])
def test_service_delete_spares_a_reused_pid(
    ctx: ProviderContext, victim: subprocess.Popen[bytes], form: str
) -> None:
    start = ProcessRef.of(victim.pid).start
    assert start is not None
    entry: object = victim.pid if form == "bare pid" else {"pid": victim.pid, "start": start - 1}
    _record_service(ctx, entry)
    handler = ServiceHandler(LocalProvider())
    # the recorded pid is not the service's instance any more: read as a stopped (FAILED) service
    read = handler.read(ctx, "api", {"endpoint": "http://127.0.0.1:1"}).attributes
    assert (
        read is not None
        and read["status"] == "FAILED"
        and "1 of 1 instance stopped" in read["status_message"]
    )
    handler.delete(ctx, "api", {})
    assert not _gone_within(victim, 0.5), "a process that is not mlrt's was signalled"


def test_service_create_spares_a_reused_pid_left_in_the_record(
    ctx: ProviderContext, victim: subprocess.Popen[bytes]
) -> None:
    _record_service(ctx, victim.pid)
    handler = ServiceHandler(LocalProvider())
    created = handler.create(ctx, {"name": "api", "suspended": True})
    assert created.attributes["status"] == "SUSPENDED"
    assert not _gone_within(victim, 0.5)


def test_leftover_run_stop_spares_a_reused_pid(ctx: ProviderContext, victim: subprocess.Popen[bytes]) -> None:
    run = ctx.data_dir / "runs" / "t-20260101-000000-aaaaaa"
    run.mkdir(parents=True)
    (run / "launcher.pid").write_text(str(victim.pid))
    models = ctx.project_dir / "models"
    (models / run.name).mkdir(parents=True)  # the untracked model of the interrupted run
    (models / "t-20251231-000000-cccccc").mkdir()  # a model some state records: not this run's
    TrainingHandler(LocalProvider())._stop_leftover_runs(ctx, "t", models)
    assert not _gone_within(victim, 0.5)
    assert not (run / "launcher.pid").exists()
    assert not (models / run.name).exists() and (models / "t-20251231-000000-cccccc").exists()


def test_leftover_run_of_ours_is_stopped_and_escalated(ctx: ProviderContext) -> None:
    # ignores SIGTERM, so only the escalation to SIGKILL ends it
    ours = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(120)",
        ],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    try:
        assert ours.stdout is not None and ours.stdout.readline() == b"up\n"
        run = ctx.data_dir / "runs" / "t-20260102-000000-bbbbbb"
        run.mkdir(parents=True)
        (run / "launcher.pid").write_text(str(ours.pid))
        (run / "launcher.json").write_text(json.dumps(ProcessRef.of(ours.pid).to_json()))
        import providers.local.training as training

        original, training.LEFTOVER_STOP_TIMEOUT = training.LEFTOVER_STOP_TIMEOUT, 0.5
        try:
            TrainingHandler(LocalProvider())._stop_leftover_runs(ctx, "t")
        finally:
            training.LEFTOVER_STOP_TIMEOUT = original
        assert _gone_within(ours, 5.0), "the leftover run survived SIGTERM and was never killed"
    finally:
        ours.kill()
        ours.wait()


def test_records_of_the_runtime_without_identity_are_still_stopped() -> None:
    """An older record holds a bare pid: trusted only when the command line is mlrt's runtime."""
    legacy = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "mlrt_iac.runtime.serving"],
        start_new_session=True,
    )
    try:
        ref = ProcessRef.from_json(legacy.pid)
        assert ref is not None
        deadline = time.monotonic() + 5
        while "mlrt_iac.runtime" not in Path(f"/proc/{legacy.pid}/cmdline").read_text(errors="replace"):
            assert time.monotonic() < deadline, "the child never exec'd"
        assert ref.is_ours()
        assert stop_groups([ref], timeout=5) == []
        assert _gone_within(legacy, 5.0)
    finally:
        legacy.kill()
        legacy.wait()
