"""The launcher end to end for XGBoost and LightGBM: real processes, real models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.unit.runtime.helpers import boosted_spec, final_metrics_from_log, run_launcher


def _check_common(tmp_path: Path, code: int, events: list[dict], rounds: int) -> dict:
    assert code == 0, events[-1]
    assert events[0]["event"] == "started"
    finished = events[-1]
    assert finished["event"] == "finished" and finished["status"] == "SUCCEEDED", finished
    assert finished["error"] is None
    assert finished["model_uri"] == str(tmp_path / "model")
    progress = [e for e in events if e["event"] == "progress"]
    assert [e["step"] for e in progress] == list(range(1, rounds + 1))
    assert all(e["total"] == rounds and "eval" in " ".join(e["metrics"]) for e in progress)
    on_disk = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert on_disk == [e for e in events if e["event"] != "log"]  # log lines live in worker-N.log
    assert json.loads((tmp_path / "run" / "result.json").read_text()) == finished
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert meta["input_cols"] == [f"f{i}" for i in range(6)]
    assert meta["input_dtypes"]["f0"] == "float64"
    assert meta["label_col"] == "label"
    assert meta["input_fingerprint"] == "fp-test"
    return meta


def _eval_logloss(tmp_path: Path, predict: np.ndarray) -> float:
    y = pq.read_table(tmp_path / "eval.parquet").column("label").to_numpy()
    p = np.clip(predict, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_xgboost_single_worker(tmp_path: Path) -> None:
    import xgboost as xgb

    code, events = run_launcher(boosted_spec(tmp_path, "xgboost", 1, rounds=8))
    meta = _check_common(tmp_path, code, events, 8)
    assert meta["framework"] == "xgboost" and meta["model_file"] == "model.ubj"
    assert meta["objective"] == "binary:logistic"
    booster = xgb.Booster(model_file=str(tmp_path / "model" / "model.ubj"))
    assert booster.num_boosted_rounds() == 8
    X = pq.read_table(tmp_path / "eval.parquet").drop(["label"]).to_pandas()
    loss = _eval_logloss(tmp_path, booster.predict(xgb.DMatrix(X)))
    assert loss == pytest.approx(events[-1]["metrics"]["eval-logloss"], rel=1e-4)
    assert any(e["event"] == "log" for e in events) or (tmp_path / "run" / "worker-0.log").exists()


@pytest.mark.slow
def test_xgboost_two_workers_train_one_model_collectively(tmp_path: Path) -> None:
    code, events = run_launcher(boosted_spec(tmp_path, "xgboost", 2, rounds=6))
    _check_common(tmp_path, code, events, 6)
    assert events[0]["world_size"] == 2
    rank0 = final_metrics_from_log(tmp_path / "run" / "worker-0.log")
    rank1 = final_metrics_from_log(tmp_path / "run" / "worker-1.log")
    # One collectively trained model: every rank computes the same (allreduced) metrics,
    # even the training loss over shards that differ.
    assert rank0 == rank1
    assert rank0["train-logloss"] == events[-1]["metrics"]["train-logloss"]


def test_xgboost_early_stopping_reports_best_iteration(tmp_path: Path) -> None:
    spec = boosted_spec(
        tmp_path,
        "xgboost",
        1,
        rounds=200,
        early_stopping_rounds=2,
        params={"objective": "binary:logistic", "max_depth": 6, "eta": 1.0},
    )
    code, events = run_launcher(spec)
    assert code == 0
    metrics = events[-1]["metrics"]
    assert metrics["num_boosted_rounds"] < 200
    assert metrics["best_iteration"] <= metrics["num_boosted_rounds"] - 1


def test_lightgbm_single_worker(tmp_path: Path) -> None:
    import lightgbm as lgb

    code, events = run_launcher(boosted_spec(tmp_path, "lightgbm", 1, rounds=7))
    meta = _check_common(tmp_path, code, events, 7)
    assert meta["framework"] == "lightgbm" and meta["model_file"] == "model.txt"
    booster = lgb.Booster(model_file=str(tmp_path / "model" / "model.txt"))
    X = pq.read_table(tmp_path / "eval.parquet").drop(["label"]).to_pandas()
    loss = _eval_logloss(tmp_path, np.asarray(booster.predict(X)))
    assert loss == pytest.approx(events[-1]["metrics"]["eval-binary_logloss"], rel=1e-4)


@pytest.mark.slow
def test_lightgbm_two_workers_data_parallel(tmp_path: Path) -> None:
    code, events = run_launcher(boosted_spec(tmp_path, "lightgbm", 2, rounds=5))
    _check_common(tmp_path, code, events, 5)
    rank0 = final_metrics_from_log(tmp_path / "run" / "worker-0.log")
    rank1 = final_metrics_from_log(tmp_path / "run" / "worker-1.log")
    # Same model on both machines: the (unsharded) eval set scores identically, while
    # each machine's training loss is over its own shard.
    assert rank0["eval-binary_logloss"] == rank1["eval-binary_logloss"]
    assert rank0["train-binary_logloss"] != rank1["train-binary_logloss"]
    log0 = (tmp_path / "run" / "worker-0.log").read_text()
    assert "num_machines" not in log0 or "Error" not in log0


def test_missing_label_fails_with_a_clear_error(tmp_path: Path) -> None:
    spec = boosted_spec(tmp_path, "xgboost", 1, rounds=2)
    doc = json.loads(spec.read_text())
    doc["datasets"]["train"]["label_col"] = None
    spec.write_text(json.dumps(doc))
    code, events = run_launcher(spec)
    assert code != 0
    assert events[-1]["status"] == "FAILED"
    assert "has no label_col" in events[-1]["error"]


def test_invalid_spec_exits_2_and_says_why(tmp_path: Path) -> None:
    spec = boosted_spec(tmp_path, "xgboost", 1)
    doc = json.loads(spec.read_text())
    doc["framework"] = "sklearn"
    spec.write_text(json.dumps(doc))
    code, events = run_launcher(spec)
    assert code == 2 and events == []
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["status"] == "FAILED" and "framework" in result["error"]


@pytest.mark.slow
def test_spec_inline_in_an_environment_variable(tmp_path: Path) -> None:
    """Kubernetes RayJobs pass the spec inline: `launch --spec-env MLRT_JOB_SPEC`."""
    import os
    import subprocess
    import sys

    spec = boosted_spec(tmp_path, "xgboost", 1, rounds=3)
    env = dict(os.environ, MLRT_JOB_SPEC=spec.read_text())
    spec.unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.runtime.launch", "--spec-env", "MLRT_JOB_SPEC"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 0, proc.stderr
    assert events[-1]["status"] == "SUCCEEDED"
    assert (tmp_path / "model" / "model.ubj").exists()
    empty = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.runtime.launch", "--spec-env", "NOPE_UNSET"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert empty.returncode == 2 and "NOPE_UNSET" in empty.stderr
