"""`mlrt init` lists the Python packages the configuration's providers and frameworks need,
with the installed versions (issue 14, problem 4; the missing case is in
tests/unit/plan_checks/test_packages.py, in a child Python)."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest

from mlrt_iac.cli.main import main

HCL = """compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
}

training "boost" {
  compute_pool = compute_pool.cpu
  framework    = "lightgbm"
}
"""


def test_init_lists_the_framework_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.hcl").write_text(HCL)
    code = main(["-chdir", str(tmp_path), "init", "-no-color"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"  - lightgbm {version('lightgbm')} (mlrt needs lightgbm>=4.0; used by training.boost)" in text
    assert "xgboost" not in text

    code = main(["-chdir", str(tmp_path), "init", "-json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["packages"]["lightgbm"]["ok"] is True
    assert doc["packages"]["lightgbm"]["needed_by"] == ["training.boost"]
