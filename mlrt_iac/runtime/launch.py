"""``python -m mlrt_iac.runtime.launch SPEC.json``: run one training job and report it.

Events (JSON lines) go to stdout and run_dir/events.jsonl; the final payload also to
run_dir/result.json. One worker runs in this process (no spawn: start-up stays small);
several run as child processes with the framework's own multi-worker training
(XGBoost collective, LightGBM data-parallel sockets, torch.distributed). SIGTERM stops
every worker and exits 143.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import IO, Any

from mlrt_iac.runtime import strays
from mlrt_iac.runtime.context import TrainingContext
from mlrt_iac.runtime.events import EventWriter, now_iso
from mlrt_iac.runtime.spec import TrainingSpec
from mlrt_iac.runtime.supervisor import Supervisor, free_ports
from mlrt_iac.runtime.worker import WORKER_ARGS_ENV, report_final, run_worker

EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM/SIGINT arrived: stop the run."""


class RunFailed(Exception):
    """A worker failed; the message is the error shown to the user."""


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def _torch_backend(spec: TrainingSpec) -> str:
    return "nccl" if spec.scaling.use_gpu and _cuda_available() else "gloo"


def _rank_env(spec: TrainingSpec, rank: int, master_port: int) -> dict[str, str]:
    per_node = spec.scaling.num_workers_per_node
    return {
        "RANK": str(rank),
        "LOCAL_RANK": str(rank % per_node),
        "WORLD_SIZE": str(spec.scaling.world_size),
        "LOCAL_WORLD_SIZE": str(per_node),
        "NODE_RANK": str(rank // per_node),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(master_port),
        "MLRT_EGRESS": ",".join(spec.egress),
        "MLRT_TORCH_BACKEND": _torch_backend(spec) if spec.framework == "pytorch" else "gloo",
    }


def _failure(sup: Supervisor, rank: int, summary: str) -> RunFailed:
    tail = sup.tail(rank)
    summary = summary.rstrip(".")  # an error text that ends its own sentence: no ".."
    return RunFailed(f"{summary}. Last lines of worker-{rank}.log:\n{tail}" if tail else summary)


def run_in_process(spec: TrainingSpec, sup: Supervisor) -> dict[str, Any]:
    """One worker in this process; its stdout/stderr (fds 1, 2) go through the pump."""
    env = _rank_env(spec, 0, free_ports(1)[0])
    os.environ.update(env)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sup.pump(0, os.fdopen(read_fd, "rb"))
    error: BaseException | None = None
    try:
        worker_args = {"cuda": spec.scaling.use_gpu and spec.framework == "xgboost" and _cuda_available()}
        ctx = TrainingContext.from_env(spec.model_dump(), environ=env)
        metrics = run_worker(spec, ctx, worker_args)
        report_final(0, metrics)
    except Terminated:
        raise
    except BaseException as exc:
        traceback.print_exc()
        error = exc
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        sup.join_pumps(timeout=5.0)
    if error is not None:
        raise _failure(sup, 0, f"Worker 0 failed: {type(error).__name__}: {error}")
    return sup.finals.get(0, {})


def run_workers(spec: TrainingSpec, spec_path: Path, sup: Supervisor) -> dict[str, Any]:
    """world_size child processes, supervised; the framework connects them."""
    world = spec.scaling.world_size
    worker_args: dict[str, Any] = {}
    tracker = None
    if spec.framework == "xgboost":
        from xgboost.tracker import RabitTracker

        tracker = RabitTracker(n_workers=world, host_ip="127.0.0.1", sortby="task")
        tracker.start()
        worker_args["tracker"] = tracker.worker_args()
        worker_args["cuda"] = spec.scaling.use_gpu and _cuda_available()
    elif spec.framework == "lightgbm":
        worker_args["ports"] = free_ports(world)
    master_port = free_ports(1)[0]
    cwd = spec.project_dir or spec.run_dir
    threads = str(max(1, int(spec.scaling.num_cpus_per_worker)))
    for rank in range(world):
        env = dict(os.environ)
        env.update(_rank_env(spec, rank, master_port))
        env.update(
            {
                WORKER_ARGS_ENV: json.dumps(worker_args),
                "MLRT_LAUNCHER_PID": str(os.getpid()),
                "OMP_NUM_THREADS": threads,
                "PYTHONUNBUFFERED": "1",
            }
        )
        sup.spawn(rank, [sys.executable, "-m", "mlrt_iac.runtime.worker", str(spec_path)], env, cwd)
    failed = sup.wait_all()
    if failed is not None:
        rank = sup.first_failure(failed[0])
        code = sup.procs[rank].returncode
        raise _failure(sup, rank, f"Worker {rank} of {world} exited with code {code}")
    if tracker is not None:
        tracker.wait_for(timeout=30)
    missing = [r for r in range(world) if r not in sup.finals]
    if missing:
        raise _failure(sup, missing[0], f"Worker {missing[0]} exited without reporting results")
    return sup.finals[0]


def _write_result(run_dir: Path, payload: dict[str, Any]) -> None:
    tmp = run_dir / "result.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, run_dir / "result.json")


def _bad_spec(path: str, exc: Exception) -> int:
    """The spec cannot be used: say so on stderr and, when possible, in run_dir."""
    message = f"Error: invalid training spec {path}: {exc}. Fix the spec the provider wrote."
    sys.stderr.write(message + "\n")
    try:
        raw = json.loads(Path(path).read_text())
        run_dir = Path(raw["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        now = now_iso()
        _write_result(
            run_dir,
            {
                "event": "finished",
                "status": "FAILED",
                "metrics": {},
                "model_uri": None,
                "started_at": now,
                "finished_at": now,
                "error": message,
            },
        )
    except Exception:
        pass
    return EXIT_BAD_SPEC


def launch(spec_path: str, stream: IO[str]) -> int:
    """Run the job; events to ``stream``. Returns the process exit code."""
    try:
        spec = TrainingSpec.load(spec_path)
    except Exception as exc:
        return _bad_spec(spec_path, exc)
    run_dir = Path(spec.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    Path(spec.model_dir).mkdir(parents=True, exist_ok=True)
    if spec.project_dir:
        os.chdir(spec.project_dir)
    events = EventWriter(run_dir, stream)
    sup = Supervisor(events, run_dir)
    strays.become_subreaper()  # processes that leave the group still end up ours (strays.py)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        sup.terminate_all(grace=3.0)
        raise Terminated(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = now_iso()
    events.emit(
        {"event": "started", "run_id": spec.run_id, "world_size": spec.scaling.world_size, "ts": started}
    )
    status, error, metrics, code = "SUCCEEDED", None, {}, 0
    try:
        if spec.scaling.world_size == 1:
            metrics = run_in_process(spec, sup)
        else:
            metrics = run_workers(spec, Path(spec_path).resolve(), sup)
    except Terminated as exc:
        status, error, code = "FAILED", f"The run was stopped by {exc}.", EXIT_TERMINATED
    except RunFailed as exc:
        status, error, code = "FAILED", str(exc), EXIT_FAILED
    except Exception as exc:  # a launcher bug or an environment problem: still report it
        status, error, code = "FAILED", f"{type(exc).__name__}: {exc}", EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        sup.terminate_all(grace=3.0)
        strays.kill_descendants()  # what the run started and left running, setsid or not
    payload = {
        "event": "finished",
        "status": status,
        "metrics": metrics,
        "model_uri": str(Path(spec.model_dir).resolve()) if status == "SUCCEEDED" else None,
        "started_at": started,
        "finished_at": now_iso(),
        "error": error,
    }
    _write_result(run_dir, payload)
    events.emit(payload)
    events.close()
    sup.close()
    return code


def main(argv: list[str] | None = None) -> int:
    """`launch SPEC.json`, or `launch --spec-env VAR` where the spec travels inline in an
    environment variable (Kubernetes RayJobs pass it through runtimeEnvYAML)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--spec-env":
        text = os.environ.get(args[1])
        if not text:
            sys.stderr.write(f"launch: environment variable {args[1]} is empty or unset\n")
            return EXIT_BAD_SPEC
        import tempfile

        if '"secret_ref"' in text:  # sensitive values wait in a Secret (kube_secrets)
            from mlrt_iac.runtime import kube_secrets

            try:
                text = json.dumps(kube_secrets.resolve(json.loads(text)))
            except (kube_secrets.SecretUnavailable, ValueError, KeyError, TypeError) as exc:
                sys.stderr.write(f"launch: {exc}\n")
                return EXIT_BAD_SPEC
        fd, path = tempfile.mkstemp(prefix="mlrt-spec-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        args = [path]
    if len(args) != 1:
        sys.stderr.write("usage: python -m mlrt_iac.runtime.launch SPEC.json | --spec-env VAR\n")
        return EXIT_BAD_SPEC
    stream = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    return launch(args[0], stream)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
