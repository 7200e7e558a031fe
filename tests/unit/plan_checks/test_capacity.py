"""Plan-time capacity of local pools (issue 14, problem 2): the bundled multi-team example
waited 12 minutes at apply on a 2-vCPU machine before failing. Now a pool that can never get
its nodes, or pools that cannot all fit together, are plan errors; capacity held by pools
outside the configuration is a warning naming them. The machine is pinned with the provider
block's max_cpus / max_memory_gib so the figures do not depend on the host."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .helpers import run

LIMITS = """provider "local" {
  max_cpus       = 2
  max_memory_gib = 8
}
"""


def _pool(label: str, family: str, min_nodes: int = 1, extra: str = "") -> str:
    return f"""
compute_pool "{label}" {{
  instance_family = "{family}"
  min_nodes       = {min_nodes}
  max_nodes       = 3{extra}
}}
"""


def test_pools_that_cannot_fit_together_are_a_plan_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # multi-team's two team pools on a 2-vCPU machine (as in the report)
    (tmp_path / "main.hcl").write_text(LIMITS + _pool("recsys", "CPU_X64_S") + _pool("fraud", "CPU_X64_M"))
    code, text = run(capsys, tmp_path, "plan")
    assert code == 1, text
    assert "Error: compute_pools do not fit here together" in text
    assert "on main.hcl line 14:" in text  # fraud's min_nodes
    assert (
        "This configuration keeps 2 pools running: compute_pool.recsys (1 node of CPU_X64_S, 2 vCPUs, 8 GiB "
        "each), compute_pool.fraud (1 node of CPU_X64_M, 2 vCPUs, 8 GiB each); together they need 4 vCPUs, "
        "16 GiB, more than the local budget (this machine): 2 vCPUs, 8 GiB. So compute_pool.fraud would "
        "wait for capacity at apply"
    ) in text
    assert not (tmp_path / ".mlrt" / "pools" / "ledger.json").exists()


def test_a_pool_larger_than_the_machine_is_a_plan_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "main.hcl").write_text(LIMITS + _pool("big", "CPU_X64_XS", min_nodes=3))
    code, text = run(capsys, tmp_path, "plan")
    assert code == 1, text
    assert "Error: compute_pool can never get 3 nodes here" in text
    assert "on main.hcl line 8:" in text and "min_nodes       = 3" in text
    assert (
        "compute_pool.big (3 nodes of CPU_X64_XS, 1 vCPU, 6 GiB each) needs 3 vCPUs, 18 GiB, more than "
        "the whole local budget (this machine): 2 vCPUs, 8 GiB. Lower min_nodes"
    ) in text


def test_suspended_pools_hold_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.hcl").write_text(
        LIMITS
        + _pool("recsys", "CPU_X64_S")
        + _pool("fraud", "CPU_X64_M", extra="\n  initially_suspended = true")
    )
    code, text = run(capsys, tmp_path, "plan")
    assert code == 0, text


def test_capacity_held_outside_the_configuration_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pools = tmp_path / ".mlrt" / "pools"
    pools.mkdir(parents=True)
    node = {"name": "other-node-0", "cpus": 2, "memory": 6, "gpus": 0}
    (pools / "ledger.json").write_text(
        json.dumps({"version": 1, "pools": {"other": {"nodes": [node], "pid": os.getpid()}}})
    )
    (tmp_path / "main.hcl").write_text(LIMITS + _pool("mine", "CPU_X64_XS"))
    code, text = run(capsys, tmp_path, "plan")
    assert code == 0, text
    assert "Warning: compute_pool may wait for capacity" in text
    assert "on main.hcl line 8:" in text
    assert "but pools outside it hold 2 vCPUs, 6 GiB: other (2 vCPUs, 6 GiB)." in text
