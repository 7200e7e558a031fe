"""Benchmark: the cost of training through mlrt's launcher instead of calling XGBoost directly.

XGBoost, 1,000,000 rows x 20 float features, 50 rounds, same params and nthread on both sides:
  - direct: in this process, read the parquet file, build the DMatrix, ``xgboost.train``
    (imports already done, so this is the pure work)
  - mlrt apply: ``mlrt apply -auto-approve`` of a project with a pool and this training, as a
    fresh process (CLI start, load, plan with the input fingerprint, pool, the launcher process,
    reading, training, saving the model, state writes)
  - launcher: ``python -m mlrt_iac.runtime.launch SPEC.json`` alone, for the breakdown
Target: mlrt apply <= 1.15 x direct + 2 s (best rounds). The three run once per round, rounds
interleaved; each figure prints its best and its spread (slowest - best), with the load average.

    python bench/train_overhead.py [--rows 1000000] [--rounds 50] [--repeats 3]
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


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--repeats", "--repeat", dest="repeats", type=int, default=3)
    parser.add_argument("--nthread", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    labels = {
        "direct": "direct xgboost.train (in-process)",
        "launcher": "launcher alone (fresh process)",
        "mlrt": "mlrt apply -auto-approve",
    }
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in labels}
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.parquet"
        make_data(data, args.rows)
        for i in range(args.repeats):  # one of each per round: a busy spell slows all alike
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            (work / "apply").mkdir()
            runs["direct"].append(run_direct(data, args.rounds, args.nthread))
            runs["launcher"].append(run_mlrt(data, work, args.rounds, args.nthread))
            runs["mlrt"].append(run_mlrt_apply(data, work / "apply", args.rounds, args.nthread))
    print(
        f"xgboost {args.rows:,} rows x {FEATURES} features, {args.rounds} rounds, "
        f"nthread={args.nthread}, {args.repeats} interleaved rounds, {os.cpu_count()} CPUs, "
        f"{load_before} (before)"
    )
    print(f"{'':<36}{'wall s':>9}{'spread':>8}{'cpu s':>9}{'spread':>8}  (best; spread = slowest - best)")
    best: dict[str, tuple[float, float]] = {}
    for key, label in labels.items():
        walls = [w for w, _ in runs[key]]
        cpus = [c for _, c in runs[key]]
        best[key] = (min(walls), min(cpus))
        print(
            f"{label:<36}{min(walls):>9.2f}{max(walls) - min(walls):>8.2f}"
            f"{min(cpus):>9.2f}{max(cpus) - min(cpus):>8.2f}"
        )
    direct, mlrt = best["direct"], best["mlrt"]
    for i, name in ((0, "wall"), (1, "cpu")):  # the target is on mlrt apply
        allowed = 1.15 * direct[i] + 2.0
        verdict = "ok" if mlrt[i] <= allowed else "MISSED"
        print(
            f"{name}: overhead {mlrt[i] - direct[i]:+.2f} s ({mlrt[i] / direct[i]:.2f} x); "
            f"target 1.15 x direct + 2 s = {allowed:.2f} s  {verdict}"
        )
    print("(cpu time is the steadier figure on a shared machine; wall time is the target's)")
    print(f"{load()} (after)")


if __name__ == "__main__":
    main()
