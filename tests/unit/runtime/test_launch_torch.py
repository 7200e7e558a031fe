"""PyTorch through the launcher: 2 processes over gloo on the digits data, failures,
and SIGTERM stopping every worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.runtime.helpers import run_launcher, write_spec

# Every test here starts the launcher, which imports torch: all over ~5 s.
pytestmark = pytest.mark.slow

TRAINER = textwrap.dedent("""
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    from mlrt_iac.runtime import get_context, save_torch_model

    COLS = [f"p{i}" for i in range(64)]


    def train():
        ctx = get_context()
        dist.init_process_group(backend=ctx.get_default_backend())
        hp = ctx.get_hyper_params()
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        ddp = DDP(model)
        opt = torch.optim.Adam(ddp.parameters(), lr=float(hp["lr"]))
        shard = ctx.get_dataset_map()["train"].get_shard()
        data = shard.to_torch_dataset(batch_size=64, shuffle=True, drop_last_batch=True)
        for epoch in range(int(hp["epochs"])):
            total = torch.zeros(2)
            for batch in data:
                x = torch.stack([batch[c] for c in COLS], dim=1).float() / 16
                loss = F.cross_entropy(ddp(x), batch["label"])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += torch.tensor([loss.item() * len(x), len(x)])
            dist.all_reduce(total)
            ctx.get_metrics_reporter().log_metrics({"loss": (total[0] / total[1]).item()})
            print(f"rank {ctx.get_rank()}/{ctx.get_world_size()} epoch {epoch} rows {shard.count_rows()}")
        if ctx.get_rank() == 0:
            save_torch_model(model)
""")

FAILING = textwrap.dedent("""
    import os
    import torch.distributed as dist
    from mlrt_iac.runtime import get_context


    def train():
        ctx = get_context()
        dist.init_process_group(backend="gloo")
        for i in range(30):
            print(f"rank {ctx.get_rank()} line {i}")
        if ctx.get_rank() == 1:
            raise ValueError("boom: bad batch in epoch 3")
        dist.barrier()  # rank 0 would wait here forever without supervision
""")

BLOCKING = textwrap.dedent("""
    import os
    import threading
    from mlrt_iac.runtime import get_context


    def train():
        ctx = get_context()
        open(os.path.join(ctx.get_model_dir(), f"pid-{ctx.get_rank()}"), "w").write(str(os.getpid()))
        print("ready", flush=True)
        threading.Event().wait()
""")


def _digits_project(tmp_path: Path, trainer: str, workers: int, **extra: object) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    table = pa.table(
        {**{f"p{i}": digits.data[:, i] for i in range(64)}, "label": digits.target.astype(np.int64)}
    )
    pq.write_table(table, tmp_path / "digits.parquet")
    (tmp_path / "trainer.py").write_text(trainer)
    return write_spec(
        tmp_path,
        framework="pytorch",
        entrypoint="trainer:train",
        datasets={
            "train": {
                "sources": [str(tmp_path / "digits.parquet")],
                "input_cols": None,
                "label_col": "label",
                "shard": True,
            }
        },
        hyper_params={"lr": 0.01, "epochs": 4},
        scaling={
            "num_nodes": 1,
            "num_workers_per_node": workers,
            "num_cpus_per_worker": 1,
            "num_gpus_per_worker": 0,
            "use_gpu": False,
        },
        **extra,
    )


def test_two_processes_over_gloo_on_digits(tmp_path: Path) -> None:
    import torch

    code, events = run_launcher(_digits_project(tmp_path, TRAINER, 2), timeout=300)
    assert code == 0, events[-1]
    finished = events[-1]
    assert finished["status"] == "SUCCEEDED", finished["error"]
    losses = [e["metrics"]["loss"] for e in events if e["event"] == "progress"]
    assert len(losses) == 4
    assert losses[-1] < losses[0] * 0.5
    assert finished["metrics"]["loss"] == losses[-1]
    # Each rank trained on its own half of the 1797 rows.
    log1 = (tmp_path / "run" / "worker-1.log").read_text()
    log0 = (tmp_path / "run" / "worker-0.log").read_text()
    assert "rank 1/2 epoch 3 rows 898" in log1 and "rank 0/2 epoch 3 rows 899" in log0
    assert any(e["event"] == "log" and e["rank"] == 1 for e in events)
    model_dir = tmp_path / "model"
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["framework"] == "pytorch" and meta["model_file"] == "model.pt2"
    assert meta["input_cols"] == [f"p{i}" for i in range(64)] and meta["label_col"] == "label"
    assert meta["metrics"]["loss"] == losses[-1]
    # save_torch_model writes a torch.export program (no deprecated TorchScript), any batch size
    model = torch.export.load(str(model_dir / "model.pt2")).module()
    assert model(torch.zeros(3, 64)).shape == (3, 10)
    assert model(torch.zeros(1, 64)).shape == (1, 10)


def test_a_failing_worker_fails_the_run_with_its_log_tail(tmp_path: Path) -> None:
    code, events = run_launcher(_digits_project(tmp_path, FAILING, 2), timeout=120)
    assert code == 1
    finished = events[-1]
    assert finished["status"] == "FAILED" and finished["model_uri"] is None
    error = finished["error"]
    assert "Worker 1 of 2 exited" in error
    assert "ValueError: boom: bad batch in epoch 3" in error
    assert "worker-1.log" in error
    assert "rank 1 line 29" in error and "rank 1 line 5" not in error  # only the tail


def test_a_failing_single_worker_reports_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "trainer.py").write_text(
        "def train():\n    print('starting')\n    raise KeyError('no column')\n"
    )
    spec = write_spec(tmp_path, framework="pytorch", entrypoint="trainer:train")
    code, events = run_launcher(spec)
    assert code == 1
    error = events[-1]["error"]
    assert events[-1]["status"] == "FAILED"
    assert "KeyError" in error and "trainer.py" in error and "starting" in error


def test_a_run_that_saves_no_model_fails(tmp_path: Path) -> None:
    """Issue 15 (Low): it used to end SUCCEEDED with model_file null, which no service can load."""
    (tmp_path / "trainer.py").write_text("def train():\n    print('trained, forgot to save')\n")
    spec = write_spec(tmp_path, framework="pytorch", entrypoint="trainer:train")
    code, events = run_launcher(spec)
    assert code == 1
    assert events[-1]["status"] == "FAILED"
    assert "finished without saving a model" in events[-1]["error"]
    assert "save_torch_model" in events[-1]["error"]


def test_an_entrypoint_without_a_colon_is_a_clear_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, framework="pytorch", entrypoint="trainer.train")
    code, events = run_launcher(spec)
    assert code == 1 and 'is not "module:function"' in events[-1]["error"]


def test_sigterm_stops_every_worker(tmp_path: Path) -> None:
    spec = _digits_project(tmp_path, BLOCKING, 2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlrt_iac.runtime.launch", str(spec)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    ready = 0
    try:
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "log" and event["line"] == "ready":
                ready += 1
                if ready == 2:
                    break
        pids = [int((tmp_path / "model" / f"pid-{r}").read_text()) for r in range(2)]
        proc.send_signal(signal.SIGTERM)
        rest = [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rest[-1]["status"] == "FAILED" and "SIGTERM" in rest[-1]["error"]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


SINGLE = textwrap.dedent("""
    import os
    import torch
    import torch.distributed as dist
    from mlrt_iac.runtime import get_context, save_torch_model


    def train():
        ctx = get_context()
        dist.init_process_group(backend=ctx.get_default_backend())
        assert dist.get_world_size() == 1
        model = torch.nn.Linear(64, 10)
        for step in range(3):
            ctx.get_metrics_reporter().log_metrics({"loss": 1.0 / (step + 1)})
        print("pid", os.getpid())
        save_torch_model(model)
""")


def test_single_worker_runs_in_the_launcher_process(tmp_path: Path) -> None:
    spec = _digits_project(tmp_path, SINGLE, 1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlrt_iac.runtime.launch", str(spec)], stdout=subprocess.PIPE, text=True
    )
    stdout, _ = proc.communicate(timeout=120)
    events = [json.loads(line) for line in stdout.splitlines()]
    assert proc.returncode == 0, events[-1]
    assert [e["metrics"]["loss"] for e in events if e["event"] == "progress"] == [1.0, 0.5, 1.0 / 3]
    pid_lines = [e["line"] for e in events if e["event"] == "log" and e["line"].startswith("pid ")]
    assert pid_lines == [f"pid {proc.pid}"]  # no extra process for a single worker
    assert (tmp_path / "model" / "model.pt2").exists()
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert meta["model_file"] == "model.pt2" and meta["metrics"]["loss"] == 1.0 / 3
    assert "pid " in (tmp_path / "run" / "worker-0.log").read_text()
