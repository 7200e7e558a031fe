"""A local training on a suspended pool with auto_resume = true resumes the pool and runs; with
auto_resume = false the same configuration is a plan error (issue 12, item 6). Real processes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.helpers import read_state, run_mlrt

REPO = Path(__file__).resolve().parents[2]

MAIN = """
compute_pool "cpu" {
  instance_family     = "CPU_X64_XS"
  initially_suspended = true
  auto_resume         = %(auto_resume)s
}

training "churn" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "label"
  }

  num_boost_round = 4
}
"""


def test_a_training_auto_resumes_its_suspended_pool(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "data").mkdir(parents=True)
    shutil.copy(REPO / "examples" / "quickstart" / "data" / "train.parquet", project / "data")
    (project / "main.hcl").write_text(MAIN % {"auto_resume": "false"})
    refused = run_mlrt(project, "plan")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "Error: Compute pool is suspended" in refused.stderr, refused.stderr
    assert "on main.hcl line 9:" in refused.stderr  # the training's compute_pool line

    (project / "main.hcl").write_text(MAIN % {"auto_resume": "true"})
    try:
        out = run_mlrt(project, "apply", "-auto-approve", timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        assert 'compute_pool "cpu" is suspended; resuming it (auto_resume = true)' in out.stdout
        state = {r["address"]: r["attributes"] for r in read_state(project)["resources"]}
        assert state["training.churn"]["status"] == "SUCCEEDED"
        record = json.loads((project / ".mlrt" / "pools" / "cpu.json").read_text())
        assert record["attributes"]["state"] == "ACTIVE"
        ledger = json.loads((project / ".mlrt" / "pools" / "ledger.json").read_text())
        assert len(ledger["pools"]["cpu"]["nodes"]) == 1
        # the pool was left alone by the configuration (suspended unset): no change planned
        plan = run_mlrt(project, "plan", "-detailed-exitcode")
        assert plan.returncode == 0, plan.stdout + plan.stderr
    finally:
        run_mlrt(project, "destroy", "-auto-approve", timeout=120)
