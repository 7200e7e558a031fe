"""The training context: Snowflake-style accessors, built from the environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlrt_iac.runtime import DataConnector, ShardedDataConnector
from mlrt_iac.runtime.context import TrainingContext


def _spec(tmp_path: Path) -> dict:
    pq.write_table(pa.table({"a": np.arange(10), "y": np.arange(10) % 2}), tmp_path / "t.parquet")
    return {
        "datasets": {
            "train": {
                "sources": [str(tmp_path / "t.parquet")],
                "input_cols": ["a"],
                "label_col": "y",
                "shard": True,
            },
            "eval": {
                "sources": [str(tmp_path / "t.parquet")],
                "input_cols": None,
                "label_col": "y",
                "shard": False,
            },
        },
        "hyper_params": {"lr": "0.1"},
        "model_dir": str(tmp_path / "model"),
    }


def test_from_env_reads_ranks_and_spec(tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(_spec(tmp_path)))
    env = {
        "RANK": "3",
        "LOCAL_RANK": "1",
        "WORLD_SIZE": "4",
        "LOCAL_WORLD_SIZE": "2",
        "NODE_RANK": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "29500",
        "MLRT_SPEC": str(spec_path),
    }
    ctx = TrainingContext.from_env(environ=env, sink=None)
    assert (ctx.get_rank(), ctx.get_local_rank(), ctx.get_world_size(), ctx.get_node_rank()) == (3, 1, 4, 1)
    assert ctx.get_local_world_size() == 2 and ctx.get_master_port() == 29500
    assert ctx.get_hyper_params() == {"lr": "0.1"}
    assert ctx.get_model_dir() == str(tmp_path / "model")
    datasets = ctx.get_dataset_map()
    assert isinstance(datasets["train"], ShardedDataConnector)
    assert datasets["train"].to_arrow().column("a").to_pylist() == [8, 9]  # rank 3 of 4
    assert datasets["train"].get_shard().count_rows() == 2
    assert not isinstance(datasets["eval"], ShardedDataConnector)
    assert isinstance(datasets["eval"], DataConnector) and datasets["eval"].count_rows() == 10


def test_metrics_reporter_sends_progress_and_keeps_last_values() -> None:
    sent: list[dict] = []
    ctx = TrainingContext.from_spec({}, rank=0, sink=sent.append)
    reporter = ctx.get_metrics_reporter()
    reporter.log_metrics({"loss": np.float32(0.5)})
    reporter.log_metrics({"loss": 0.25, "acc": 0.9}, step=10)
    assert [p["step"] for p in sent] == [1, 10]
    assert sent[0]["metrics"] == {"loss": 0.5}
    assert reporter.last == {"loss": 0.25, "acc": 0.9}


def test_get_context_in_a_worker_process_uses_its_environment(tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(_spec(tmp_path)))
    code = (
        "from mlrt_iac.runtime import get_context\n"
        "c = get_context()\n"
        "print(c.get_rank(), c.get_world_size(), c.get_dataset_map()['train'].count_rows())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"RANK": "1", "WORLD_SIZE": "3", "MLRT_SPEC": str(spec_path), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.split() == ["1", "3", "3"]


def test_importing_the_runtime_is_cheap() -> None:
    code = "import sys, mlrt_iac.runtime; print('torch' in sys.modules, 'xgboost' in sys.modules, 'pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
