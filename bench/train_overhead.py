"""Benchmark: the cost of training through mlrt's launcher instead of calling XGBoost directly.

XGBoost, 1,000,000 rows x 20 float features, 50 rounds, same params and nthread on both sides:
  - direct: in this process, read the parquet file, build the DMatrix, ``xgboost.train``
    (imports already done, so this is the pure work)
  - mlrt apply: ``mlrt apply -auto-approve`` of a project with a pool and this training, as a
    fresh process (CLI start, load, plan with the input fingerprint, pool, the launcher process,
    reading, training, saving the model, state writes)
  - launcher: ``python -m mlrt_iac.runtime.launch SPEC.json`` alone, for the breakdown
Target: mlrt apply <= 1.15 x direct + 2 s.

    python bench/train_overhead.py [--rows 1000000] [--rounds 50] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xgboost as xgb

FEATURES = 20


def make_data(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, FEATURES))
    logits = X[:, :5] @ np.array([1.5, -2.0, 1.0, 0.5, -1.0]) + 0.3 * rng.standard_normal(rows)
    table = pa.table({**{f"f{i}": X[:, i] for i in range(FEATURES)}, "label": (logits > 0).astype(np.int64)})
    pq.write_table(table, path)


def params(nthread: int) -> dict[str, Any]:
    return {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": 6,
        "eta": 0.3,
        "nthread": nthread,
        "eval_metric": "logloss",
    }


def run_direct(data: Path, rounds: int, nthread: int) -> tuple[float, float]:
    """(wall s, cpu s) of reading + DMatrix + train in this process."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    table = pq.read_table(data)
    X = table.drop(["label"]).to_pandas()
    y = table.column("label").to_numpy()
    dtrain = xgb.DMatrix(X, label=y, nthread=nthread)
    xgb.train(params(nthread), dtrain, num_boost_round=rounds, evals=[(dtrain, "train")], verbose_eval=False)
    return time.perf_counter() - t0, time.process_time() - c0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mlrt(data: Path, workdir: Path, rounds: int, nthread: int) -> tuple[float, float]:
    """(wall s, cpu s) of one training through mlrt (today: the launcher process)."""
    spec = {
        "run_id": "bench",
        "framework": "xgboost",
        "datasets": {
            "train": {"sources": [str(data)], "input_cols": None, "label_col": "label", "shard": False}
        },
        "params": params(nthread),
        "num_boost_round": rounds,
        "n_estimators": None,
        "entrypoint": None,
        "hyper_params": {},
        "scaling": {
            "num_nodes": 1,
            "num_workers_per_node": 1,
            "num_cpus_per_worker": nthread,
            "num_gpus_per_worker": 0,
            "use_gpu": False,
        },
        "model_dir": str(workdir / "model"),
        "run_dir": str(workdir / "run"),
        "project_dir": str(workdir),
        "egress": [],
        "input_fingerprint": "",
        "early_stopping_rounds": None,
    }
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.runtime.launch", str(spec_path)], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    cpu = _children_cpu() - c0
    finished = json.loads(proc.stdout.splitlines()[-1])
    if proc.returncode != 0 or finished.get("status") != "SUCCEEDED":
        raise SystemExit(f"mlrt run failed: {finished.get('error')}")
    return elapsed, cpu


PROJECT = """
compute_pool "bench" {{
  instance_family = "CPU_X64_S"
}}

training "bench" {{
  compute_pool = compute_pool.bench
  framework    = "xgboost"

  dataset "train" {{
    source    = "{data}"
    label_col = "label"
    shard     = false
  }}

  params          = {params}
  num_boost_round = {rounds}

  scaling {{
    num_cpus_per_worker = {nthread}
  }}
}}
"""


def run_mlrt_apply(data: Path, workdir: Path, rounds: int, nthread: int) -> tuple[float, float]:
    """(wall s, cpu s) of `mlrt apply -auto-approve` of a project holding this training."""
    hcl_params = "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in params(nthread).items()) + " }"
    (workdir / "main.hcl").write_text(
        PROJECT.format(data=data, params=hcl_params, rounds=rounds, nthread=nthread)
    )
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlrt_iac.cli.main",
            "-chdir",
            str(workdir),
            "apply",
            "-auto-approve",
            "-no-color",
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    cpu = _children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"mlrt apply failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--nthread", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.parquet"
        make_data(data, args.rows)
        inf = (float("inf"), float("inf"))
        direct, launcher, mlrt = inf, inf, inf
        for i in range(args.repeat):
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            (work / "apply").mkdir()
            d = run_direct(data, args.rounds, args.nthread)
            la = run_mlrt(data, work, args.rounds, args.nthread)
            m = run_mlrt_apply(data, work / "apply", args.rounds, args.nthread)
            direct = (min(direct[0], d[0]), min(direct[1], d[1]))
            launcher = (min(launcher[0], la[0]), min(launcher[1], la[1]))
            mlrt = (min(mlrt[0], m[0]), min(mlrt[1], m[1]))
        print(
            f"xgboost {args.rows:,} rows x {FEATURES} features, {args.rounds} rounds, "
            f"nthread={args.nthread}, best of {args.repeat}"
        )
        print(f"{'':<36}{'wall s':>9}{'cpu s':>9}")
        print(f"{'direct xgboost.train (in-process)':<36}{direct[0]:>9.2f}{direct[1]:>9.2f}")
        print(f"{'launcher alone (fresh process)':<36}{launcher[0]:>9.2f}{launcher[1]:>9.2f}")
        print(f"{'mlrt apply -auto-approve':<36}{mlrt[0]:>9.2f}{mlrt[1]:>9.2f}")
        for i, name in ((0, "wall"), (1, "cpu")):  # the target is on mlrt apply
            allowed = 1.15 * direct[i] + 2.0
            verdict = "ok" if mlrt[i] <= allowed else "MISSED"
            print(
                f"{name}: overhead {mlrt[i] - direct[i]:+.2f} s ({mlrt[i] / direct[i]:.2f} x); "
                f"target 1.15 x direct + 2 s = {allowed:.2f} s  {verdict}"
            )
        print("(cpu time is the steadier figure on a shared machine; wall time is the target's)")


if __name__ == "__main__":
    main()
