"""A training on a pool that stays suspended (auto_resume = false) is a plan error naming the
block by file and line, with no traceback (issue 12, item 6); `suspended` plans in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.cli.main import main

HCL = """compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
  suspended       = true
  auto_resume     = false
}

training "boost" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "y"
  }
}
"""

POOL_ONLY = """compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
  SWITCH
}
"""


def _run(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str]:
    code = main(["-chdir", str(project), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_training_on_a_pool_kept_suspended_is_a_plan_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "main.hcl").write_text(HCL)
    code, text = _run(capsys, tmp_path, "plan", "-no-color")
    assert code == 1, text
    assert "Traceback" not in text
    assert "Error: Compute pool is suspended" in text
    assert "on main.hcl line 8:" in text and "compute_pool = compute_pool.cpu" in text
    assert "on main.hcl line 3 (related):" in text and "on main.hcl line 4 (related):" in text
    assert "training.boost runs on compute_pool.cpu, which is suspended (suspended = true)" in text
    (tmp_path / "main.hcl").write_text(HCL.replace("auto_resume     = false", "auto_resume     = true"))
    code, text = _run(capsys, tmp_path, "validate", "-no-color")
    assert code == 0, text


def test_suspended_plans_in_place_and_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main_hcl = tmp_path / "main.hcl"
    main_hcl.write_text(POOL_ONLY.replace("SWITCH", ""))
    code, text = _run(capsys, tmp_path, "apply", "-auto-approve", "-no-color")
    try:
        assert code == 0, text
        main_hcl.write_text(POOL_ONLY.replace("SWITCH", "suspended = true"))
        code, text = _run(capsys, tmp_path, "plan", "-no-color", "-detailed-exitcode")
        assert code == 2, text
        assert "compute_pool.cpu will be updated in-place" in text, text
        assert "+ suspended = true" in text  # set where it was unset
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in text
        code, text = _run(capsys, tmp_path, "apply", "-auto-approve", "-no-color")
        assert code == 0, text
        code, text = _run(capsys, tmp_path, "plan", "-no-color", "-detailed-exitcode")
        assert code == 0, text  # suspended, as configured: no changes
        code, text = _run(capsys, tmp_path, "state", "show", "compute_pool.cpu", "-no-color")
        assert "SUSPENDED" in text, text
        # flipping initially_suspended alone is still no change (creation-only)
        main_hcl.write_text(POOL_ONLY.replace("SWITCH", "suspended = true\n  initially_suspended = true"))
        code, text = _run(capsys, tmp_path, "plan", "-no-color", "-detailed-exitcode")
        assert code == 0, text
        main_hcl.write_text(POOL_ONLY.replace("SWITCH", "suspended = false"))
        code, text = _run(capsys, tmp_path, "apply", "-auto-approve", "-no-color")
        assert code == 0, text
        code, text = _run(capsys, tmp_path, "state", "show", "compute_pool.cpu", "-no-color")
        assert "ACTIVE" in text
    finally:
        _run(capsys, tmp_path, "destroy", "-auto-approve", "-no-color")


def test_a_pool_left_alone_never_shows_suspended(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main_hcl = tmp_path / "main.hcl"
    main_hcl.write_text(POOL_ONLY.replace("SWITCH", 'labels = { team = "a" }'))
    code, text = _run(capsys, tmp_path, "apply", "-auto-approve", "-no-color")
    try:
        assert code == 0, text
        main_hcl.write_text(POOL_ONLY.replace("SWITCH", 'labels = { team = "b" }'))
        code, text = _run(capsys, tmp_path, "plan", "-no-color")
        assert code == 0, text
        assert "labels" in text and "suspended" not in text
    finally:
        _run(capsys, tmp_path, "destroy", "-auto-approve", "-no-color")
