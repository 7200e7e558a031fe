"""PyTorch with 2 Ray Train workers on the digits data, and a compute pool that manages its own
local Ray cluster: capped sizes, scaling 1 -> 2 -> 1 nodes with `nodes` following, drift when
the cluster dies, and destroy leaving no process of it behind."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from providers.ray import cluster
from tests.e2e.helpers import read_state, run_mlrt

from .conftest import write_project

pytestmark = pytest.mark.ray

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
            total = torch.zeros(3)
            for batch in data:
                x = torch.stack([batch[c] for c in COLS], dim=1).float() / 16
                out = ddp(x)
                loss = F.cross_entropy(out, batch["label"])
                opt.zero_grad()
                loss.backward()
                opt.step()
                hits = (out.argmax(1) == batch["label"]).sum().item()
                total += torch.tensor([loss.item() * len(x), float(hits), len(x)])
            dist.all_reduce(total)
            ctx.get_metrics_reporter().log_metrics({"loss": (total[0] / total[2]).item(),
                                                    "accuracy": (total[1] / total[2]).item()})
            print(f"rank {ctx.get_rank()}/{ctx.get_world_size()} rows {shard.count_rows()}")
        if ctx.get_rank() == 0:
            save_torch_model(model)
""")

TORCH_MAIN = """
mlrt {
  default_provider = "ray"
}

provider "ray" {
  address = "%(address)s"
}

compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

training "digits" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "trainer:train"

  dataset "train" {
    source    = "digits.parquet"
    label_col = "label"
  }

  hyper_params = {
    lr     = 0.01
    epochs = 4
  }

  scaling {
    num_workers_per_node = 2
  }
}
"""


def test_pytorch_two_workers_on_digits(tmp_path: Path, dashboard: str) -> None:
    import torch
    from sklearn.datasets import load_digits

    project = write_project(
        tmp_path / "torch", {"main.hcl": TORCH_MAIN % {"address": dashboard}, "trainer.py": TRAINER}
    )
    digits = load_digits()
    pq.write_table(
        pa.table(
            {**{f"p{i}": digits.data[:, i] for i in range(64)}, "label": digits.target.astype(np.int64)}
        ),
        project / "digits.parquet",
    )
    out = run_mlrt(project, "apply", "-auto-approve", timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    # Each of the 2 workers trained on its own half of the 1797 rows.
    assert "rank 0/2 rows 899" in out.stdout and "rank 1/2 rows 898" in out.stdout, out.stdout
    attrs = next(r for r in read_state(project)["resources"] if r["address"] == "training.digits")[
        "attributes"
    ]
    assert attrs["metrics"]["accuracy"] > 0.8, attrs["metrics"]
    model_dir = Path(attrs["model_uri"])
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["framework"] == "pytorch" and meta["model_file"] == "model.pt2"
    assert len(meta["input_cols"]) == 64
    module = torch.export.load(str(model_dir / "model.pt2")).module()
    x = torch.tensor(digits.data[:200], dtype=torch.float32) / 16
    assert (module(x).argmax(1).numpy() == digits.target[:200]).mean() > 0.8
    assert run_mlrt(project, "destroy", "-auto-approve", timeout=200).returncode == 0


POOL_MAIN = """
mlrt {
  default_provider = "ray"
}

provider "ray" {
  overcommit = 2 # two nodes of 2 vCPUs on a 2-core machine
}

compute_pool "local" {
  instance_family = "CPU_X64_S"
  min_nodes       = 1
  max_nodes       = 2
  active_nodes    = %(active)d
}

output "nodes" {
  value = compute_pool.local.nodes
}
"""


def _pool(project: Path) -> dict:
    return next(r for r in read_state(project)["resources"] if r["address"] == "compute_pool.local")[
        "attributes"
    ]


def test_managed_pool_scales_and_stops_everything(tmp_path: Path) -> None:
    project = write_project(tmp_path / "pool", {"main.hcl": POOL_MAIN % {"active": 1}})
    plan = run_mlrt(project, "plan", timeout=60)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "capped" in plan.stdout  # CPU_X64_S has 3 vCPUs, this machine 2
    rec_path = project / ".mlrt" / "ray" / "pools" / "local.json"
    try:
        out = run_mlrt(project, "apply", "-auto-approve", timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        pool = _pool(project)
        assert pool["capped"]["cpus"] == {"family": 3, "machine": 2}
        assert [n["name"] for n in pool["nodes"]] == ["local-node-0"]
        assert pool["nodes"][0]["cpus"] == 2
        assert pool["address"].startswith("http://127.0.0.1:")
        rec = cluster.ClusterRecord.from_json(json.loads(rec_path.read_text()))
        assert cluster.cluster_pids(rec)

        for active, names in ((2, ["local-node-0", "local-node-1"]), (1, ["local-node-0"])):
            (project / "main.hcl").write_text(POOL_MAIN % {"active": active})
            out = run_mlrt(project, "apply", "-auto-approve", timeout=300)
            assert out.returncode == 0, out.stdout + out.stderr
            assert "1 changed" in out.stdout, out.stdout
            assert [n["name"] for n in _pool(project)["nodes"]] == names
        rec = cluster.ClusterRecord.from_json(json.loads(rec_path.read_text()))
        assert rec.workers == {}

        # The cluster dies behind mlrt's back: the next plan wants it again, apply starts it.
        cluster.stop(rec)
        plan = run_mlrt(project, "plan", "-detailed-exitcode", timeout=60)
        assert plan.returncode == 2, plan.stdout + plan.stderr
        assert "compute_pool.local" in plan.stdout
        out = run_mlrt(project, "apply", "-auto-approve", timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        rec = cluster.ClusterRecord.from_json(json.loads(rec_path.read_text()))
        assert cluster.cluster_pids(rec)

        out = run_mlrt(project, "destroy", "-auto-approve", timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        assert not cluster.cluster_pids(rec)
        assert not rec_path.exists()
    finally:
        if rec_path.exists():
            cluster.stop(cluster.ClusterRecord.from_json(json.loads(rec_path.read_text())))
