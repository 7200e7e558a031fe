"""One training worker. ``run_worker`` is called in the launcher process for a single
worker (no spawn overhead) or by ``python -m mlrt_iac.runtime.worker SPEC.json`` in each
process of a multi-worker run, with rank info in the environment."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from typing import Any

from mlrt_iac.runtime.context import TrainingContext, set_context, stdout_marker_sink
from mlrt_iac.runtime.spec import TrainingSpec

WORKER_ARGS_ENV = "MLRT_WORKER_ARGS"


def run_worker(spec: TrainingSpec, ctx: TrainingContext, worker_args: dict[str, Any]) -> dict[str, Any]:
    """Train this worker's part and return its final metrics."""
    set_context(ctx)
    if spec.framework == "xgboost":
        from mlrt_iac.runtime.train_xgboost import train_xgboost

        return train_xgboost(spec, ctx, worker_args)
    if spec.framework == "lightgbm":
        from mlrt_iac.runtime.train_lightgbm import train_lightgbm

        return train_lightgbm(spec, ctx, worker_args)
    from mlrt_iac.runtime.train_torch import train_torch

    return train_torch(spec, ctx, worker_args)


def report_final(rank: int, metrics: dict[str, Any]) -> None:
    stdout_marker_sink({"kind": "final", "rank": rank, "metrics": metrics})


def _die_with_launcher() -> None:
    """Exit when the launcher dies, even by SIGKILL, so no worker is left behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    expected = os.environ.get("MLRT_LAUNCHER_PID")
    if expected and os.getppid() != int(expected):
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    _die_with_launcher()
    try:
        spec = TrainingSpec.load(args[0])
        worker_args = json.loads(os.environ.get(WORKER_ARGS_ENV) or "{}")
        ctx = TrainingContext.from_env(spec.model_dump())
        metrics = run_worker(spec, ctx, worker_args)
        report_final(ctx.get_rank(), metrics)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        # When the time each worker failed is known, the launcher can blame the first one
        # rather than a peer that only failed because the first one left the collective.
        stdout_marker_sink({"kind": "failed", "rank": int(os.environ.get("RANK", "0")), "ts": time.time()})
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: it is slow with torch and can hang in gloo
