"""Shared helpers for runtime tests: real data files, job specs and launcher runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def classification_tables(n: int = 1200, features: int = 6, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=features, random_state=seed)
    table = pa.table({**{f"f{i}": X[:, i] for i in range(features)}, "label": y.astype(np.int64)})
    cut = int(n * 0.8)
    return table.slice(0, cut), table.slice(cut)


def write_spec(tmp: Path, **overrides: Any) -> Path:
    spec: dict[str, Any] = {
        "run_id": "run-1",
        "framework": "xgboost",
        "datasets": {},
        "params": {},
        "num_boost_round": None,
        "n_estimators": None,
        "entrypoint": None,
        "hyper_params": {},
        "scaling": {
            "num_nodes": 1,
            "num_workers_per_node": 1,
            "num_cpus_per_worker": 1,
            "num_gpus_per_worker": 0,
            "use_gpu": False,
        },
        "model_dir": str(tmp / "model"),
        "run_dir": str(tmp / "run"),
        "project_dir": str(tmp),
        "egress": [],
        "input_fingerprint": "fp-test",
        "early_stopping_rounds": None,
    }
    spec.update(overrides)
    path = tmp / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def boosted_spec(tmp: Path, framework: str, workers: int, rounds: int = 8, **extra: Any) -> Path:
    train, evalset = classification_tables()
    pq.write_table(train, tmp / "train.parquet")
    pq.write_table(evalset, tmp / "eval.parquet")
    objective = "binary:logistic" if framework == "xgboost" else "binary"
    params = extra.pop("params", {"objective": objective, "max_depth": 3})
    return write_spec(
        tmp,
        framework=framework,
        datasets={
            "train": {
                "sources": [str(tmp / "train.parquet")],
                "input_cols": None,
                "label_col": "label",
                "shard": False,
            },
            "eval": {
                "sources": [str(tmp / "eval.parquet")],
                "input_cols": None,
                "label_col": "label",
                "shard": False,
            },
        },
        params=params,
        num_boost_round=rounds,
        scaling={
            "num_nodes": 1,
            "num_workers_per_node": workers,
            "num_cpus_per_worker": 1,
            "num_gpus_per_worker": 0,
            "use_gpu": False,
        },
        **extra,
    )


def run_launcher(spec: Path, timeout: float = 120) -> tuple[int, list[dict[str, Any]]]:
    """Run the real launcher; return its exit code and the events it printed."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.runtime.launch", str(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events


def final_metrics_from_log(log: Path) -> dict[str, Any]:
    """The "[mlrt] final metrics {...}" line a worker's log ends with."""
    for line in log.read_text().splitlines():
        if line.startswith("[mlrt] final metrics "):
            data = json.loads(line[len("[mlrt] final metrics ") :])
            assert isinstance(data, dict)
            return data
    raise AssertionError(f"no final metrics in {log}")
