"""`training` on the local provider: a supervised subprocess group running the ML runtime.

A run (`run_version`, for create and for a retrain) writes a job spec, runs `python -m
mlrt_iac.runtime.launch SPEC` and streams its JSON events to the terminal; it returns only when
the run has finished. Each run writes a new model version `<artifact_location>/<run_id>/`
(default `.mlrt/models/<training>/<run_id>/`). Re-training is a plan decision
(`providers.kit.training.TrainingPlanning`): `diff` recomputes the input fingerprint (data file
contents, known by stat once hashed; entrypoint source; params) and plans an in-place
update (a new version) when it moved, saying which part changed; the previous versions stay
until pruned to `keep_versions`, and a version a service serves is never removed
(`providers.kit.models`).

Failure contract: a failed run leaves no model version behind (the run's logs stay under
`.mlrt/runs/<run_id>/` for inspection) and the previous versions untouched. A run still going
when the deadline (`timeouts { create }`, or `update` for a retrain) passes, or when the user
presses Ctrl-C, is stopped (its whole process group) and the operation fails (DeadlineExceeded
for the deadline).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    LogLine,
    LogQuery,
    ProviderContext,
    ReadRequest,
    ReadResult,
)
from mlrt_iac.runtime import strays
from providers.kit import models
from providers.kit.batch import read_by_scan
from providers.kit.handler import public
from providers.kit.names import file_safe_name
from providers.kit.processes import ProcessRef, stop_groups
from providers.kit.records import atomic_write_json
from providers.kit.training import (
    TrainingPlanning,
    describe_progress,
    fingerprint,
    gpu_problems,
    job_spec,
    model_root,
    new_run_id,
    parse_event,
)
from providers.kit.waiting import exceeded

from .common import LocalHandler
from .compute_pool import ComputePoolHandler
from .logs import training_logs
from .pool_work import pool_name

# How often the watchdog looks at Ctrl-C and the deadline while a run is going.
WATCH_INTERVAL = 0.1
LEFTOVER_STOP_TIMEOUT = 10.0
_RUN_ID = re.compile(
    r"\d{8}-\d{6}-[0-9a-f]{6}"
)  # the tail new_run_id puts after the name  # SIGTERM, then SIGKILL, for a run left by a killed apply


class TrainingHandler(LocalHandler, TrainingPlanning):
    type_name: ClassVar[str] = "training"

    def validate(self, desired: Attributes) -> Diagnostics:
        """GPUs asked of this machine must exist here (the model checks the pool's family)."""
        return gpu_problems(desired, self.lp.machine().gpus)

    def run_version(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        name = file_safe_name(ctx, desired)
        self._stop_leftover_runs(ctx, name, model_root(ctx, desired))
        run_id = new_run_id(name)
        run_dir = ctx.data_dir / "runs" / run_id
        model_dir = model_root(ctx, desired) / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        got = fingerprint(ctx, desired)
        fp, parts = got if got is not None else ("", {})
        spec_path = run_dir / "spec.json"
        atomic_write_json(spec_path, job_spec(ctx, desired, run_id, model_dir, run_dir, fp))
        pools = self.lp.handler("compute_pool")
        assert isinstance(pools, ComputePoolHandler)
        pool = pool_name(ctx, desired)
        # auto-resume, and scale-up to scaling.num_nodes for this run (see compute_pool.py)
        give_back = pools.claim(ctx, pool, _num_nodes(desired))
        try:
            result = self._run(ctx, spec_path, run_dir)
        except BaseException:
            shutil.rmtree(model_dir, ignore_errors=True)
            raise
        finally:
            pools.release(ctx, pool, give_back)
        if result.get("status") != "SUCCEEDED":
            shutil.rmtree(model_dir, ignore_errors=True)
            raise PermanentError(
                f"Training {ctx.address} failed (run {run_id})",
                (result.get("error") or "the run reported no error") + f"\nLogs: {run_dir}",
            )
        attrs = {
            "run_id": run_id,
            "status": "SUCCEEDED",
            "metrics": result.get("metrics") or {},
            "model_uri": result.get("model_uri") or str(model_dir),
            "input_fingerprint": fp,
            "started_at": result.get("started_at"),
            "finished_at": result.get("finished_at"),
        }
        return CreateResult(run_id, attrs, {"fingerprint_parts": parts})

    @staticmethod
    def _leftover_runs(ctx: ProviderContext, name: str) -> list[tuple[Path, ProcessRef | None]]:
        """Runs of this training whose launcher file is still there: their apply never saw them
        end (it was killed). Each with its launcher's identity, when that can be read."""
        found: list[tuple[Path, ProcessRef | None]] = []
        for pid_file in sorted((ctx.data_dir / "runs").glob(f"{name}-*/launcher.pid")):
            if not _RUN_ID.fullmatch(pid_file.parent.name[len(name) + 1 :]):
                continue  # another training whose name starts with this one's
            identity = pid_file.with_name("launcher.json")
            try:
                ref = ProcessRef.from_json(
                    json.loads(identity.read_text()) if identity.exists() else pid_file.read_text()
                )
            except (ValueError, OSError):
                ref = None
            found.append((pid_file, ref))
        return found

    def _stop_leftover_runs(self, ctx: ProviderContext, name: str, models: Path | None = None) -> None:
        """A run whose mlrt was killed keeps training in its own session; stop it before starting
        another, so one training never has two runs writing models at once. Its model directory
        (under `models`) is removed: no state records it, so nothing else ever would."""
        for pid_file, ref in self._leftover_runs(ctx, name):
            # Only a process verified to be that run is signalled (a stale pid may be reused).
            if ref is not None and ref.alive():
                left = stop_groups([ref], LEFTOVER_STOP_TIMEOUT)
                how = "could not stop" if left else "stopped"
                ctx.log(f"{how} run {pid_file.parent.name} left by an interrupted apply (pid {ref.pid})")
            pid_file.unlink(missing_ok=True)
            pid_file.with_name("launcher.json").unlink(missing_ok=True)
            if models is not None:
                shutil.rmtree(models / pid_file.parent.name, ignore_errors=True)

    def _run(self, ctx: ProviderContext, spec_path: Path, run_dir: Path) -> dict[str, Any]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlrt_iac.runtime.launch", str(spec_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            cwd=str(ctx.project_dir),
            env=env,
            start_new_session=True,
        )
        pid_file = run_dir / "launcher.pid"
        pid_file.write_text(str(proc.pid))
        atomic_write_json(run_dir / "launcher.json", ProcessRef.of(proc.pid).to_json())
        tail: deque[str] = deque(maxlen=30)
        finished: dict[str, Any] | None = None
        stopped: list[str] = []  # why the watchdog stopped the run: "cancel" or "deadline"
        done = threading.Event()

        def watchdog() -> None:
            """Stop the run on Ctrl-C or when the deadline passes (reading its output blocks)."""
            while not done.wait(WATCH_INTERVAL):
                why = "cancel" if ctx.cancel.is_set() else ("deadline" if ctx.remaining(1.0) <= 0 else "")
                if why:
                    stopped.append(why)
                    _terminate(proc)
                    return

        watcher = threading.Thread(target=watchdog, name=f"watch-{run_dir.name}", daemon=True)
        watcher.start()
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                event = parse_event(line)
                if event is None:
                    tail.append(line)
                    if line.strip():
                        ctx.log(line)
                    continue
                kind = event.get("event")
                if kind == "progress":
                    ctx.progress(describe_progress(event))
                elif kind == "log":
                    tail.append(str(event.get("line", "")))
                    ctx.log(f"[rank {event.get('rank', 0)}] {event.get('line', '')}")
                elif kind == "finished":
                    finished = event
        except BaseException:
            _terminate(proc)
            raise
        finally:
            _end_group(proc)
            rc = proc.wait()
            done.set()
            watcher.join()
            proc.stdout.close()
            pid_file.unlink(missing_ok=True)
        if stopped and stopped[0] == "deadline":
            raise exceeded(
                ctx,
                f"the training run {run_dir.name}",
                f"The run was stopped before it finished; its logs are in {run_dir}.",
            )
        if stopped or ctx.cancel.is_set():
            return {"status": "FAILED", "error": "cancelled by the user (Ctrl-C)"}
        if finished is None:
            result_file = run_dir / "result.json"
            if result_file.exists():
                finished = json.loads(result_file.read_text())
        if finished is None:
            return {
                "status": "FAILED",
                "error": f"the launcher exited with code {rc} without a result:\n" + "\n".join(tail),
            }
        return finished

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """One scan per artifact folder: a model version that is not listed is gone."""
        return read_by_scan(
            self.read,
            requests,
            lambda req: Path(str(req.prior["model_uri"])) if req.prior.get("model_uri") else None,
        )

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        uri = prior.get("model_uri")
        if not uri:
            # A create that never finished (its apply was killed): the run may still be going.
            # Then it exists, and the plan replaces it (status `creating`) or destroy stops it.
            name = file_safe_name(ctx, prior)
            if any(ref is not None and ref.alive() for _, ref in self._leftover_runs(ctx, name)):
                return ReadResult({**public(prior), "status": "RUNNING"})
            return ReadResult(None)
        if not (Path(uri) / "metadata.json").exists():
            return ReadResult(None)
        return ReadResult(public(prior))

    def import_(self, ctx: ProviderContext, id: str) -> ReadResult:
        """A finished run of this project (`mlrt import training.x RUN_ID`): its model version
        under .mlrt/models/<training>/RUN_ID (or .mlrt/models/RUN_ID, where mlrt before model
        versions wrote it), with what its metadata.json recorded."""
        if "/" in id or id in ("", ".", ".."):
            return ReadResult(None)
        model_dir = model_root(ctx, {}) / id
        if not (model_dir / "metadata.json").is_file():
            model_dir = ctx.data_dir / "models" / id
        meta_file = model_dir / "metadata.json"
        if not meta_file.is_file():
            return ReadResult(None)
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError):
            return ReadResult(None)
        return ReadResult(
            {
                "run_id": id,
                "status": "SUCCEEDED",
                "metrics": meta.get("metrics") or {},
                "model_uri": str(model_dir),
                "input_fingerprint": meta.get("input_fingerprint"),
                "started_at": None,
                "finished_at": meta.get("created_at"),
                "versions": models.describe(model_dir.parent, file_safe_name(ctx, {})),
            }
        )

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        """Remove the model versions no service uses; also stop (and clean up) any run of this
        training a killed apply left."""
        self._stop_leftover_runs(ctx, file_safe_name(ctx, prior), model_root(ctx, prior))
        self.remove_versions(ctx, prior)

    def logs(
        self, ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
    ) -> Iterator[LogLine]:
        """`mlrt logs` of the latest run (see providers/local/logs.py); the id stays the first run's."""
        return training_logs(ctx, str(attributes.get("run_id") or id), attributes, query)


def _num_nodes(desired: Attributes) -> int | None:
    scaling = desired.get("scaling")
    value = scaling.get("num_nodes") if isinstance(scaling, dict) else None
    return int(value) if isinstance(value, int) else None


def _end_group(proc: subprocess.Popen[str]) -> None:
    """Wait for the launcher to exit, then SIGKILL whatever is left in its process group.

    The launcher is a session leader; a process it started and did not wait for (a data loader, a
    stray child of user code) would outlive the run and keep writing. The launcher is waited for
    without being reaped (WNOWAIT), so its pid, and with it the group id, cannot be reused before
    the group is signalled.
    """
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:  # already reaped (the watchdog stopped it)
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _terminate(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the run (the launcher stops what it started), SIGKILL it after 10 s: then its
    descendants first, which may have left its group (mlrt_iac.runtime.strays)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        strays.kill_descendants(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
