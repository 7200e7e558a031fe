"""A configuration whose framework or provider package is not installed fails at plan with the
pip line that fixes it (issue 14, problem 4), instead of ModuleNotFoundError at apply or
"FileNotFoundError ... 'ray'" from a managed Ray pool. Packages are hidden from a real child
Python (hide_packages/sitecustomize.py), not uninstalled."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import XGB_TRAINING, run_child, write_parquet

pytestmark = pytest.mark.slow  # each case runs mlrt in a child Python

XGB = XGB_TRAINING

RAY = """provider "ray" {}

compute_pool "cpu" {
  provider        = ray
  instance_family = "CPU_X64_XS"
}
"""


@pytest.mark.parametrize("command", ["plan", "init"])
def test_missing_framework(tmp_path: Path, command: str) -> None:
    write_parquet(tmp_path / "data" / "train.parquet", f0=[1.0, 2.0], label=[0, 1])
    (tmp_path / "main.hcl").write_text(XGB)
    code, text = run_child(tmp_path, command, hide="xgboost")
    assert code == 1, text
    assert "Error: Python package xgboost is not installed" in text
    assert "pip install 'xgboost>=2.0' (or with mlrt's extra: pip install" in text
    assert "[ml]'" in text
    assert "on main.hcl line" in text
    assert "ModuleNotFoundError" not in text and "Traceback" not in text
    if command == "init":
        assert "  - xgboost not installed (mlrt needs xgboost>=2.0; used by training.boost)" in text


def test_missing_ray_for_a_managed_cluster(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(RAY)
    code, text = run_child(tmp_path, "plan", hide="ray")
    assert code == 1, text
    assert "Error: Python package ray is not installed" in text
    assert "pip install 'ray[default,serve,train]>=2.40'" in text
    assert "on main.hcl line 3:" in text
    assert "FileNotFoundError" not in text and "This is a bug" not in text
