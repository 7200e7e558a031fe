"""`functions = ["explain"]` on an xgboost model fails at plan, before the pool is created
(issue 14, problem 3; the check itself is mlrt_iac.model.cross's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import XGB_TRAINING, run, write_parquet

HCL = (
    XGB_TRAINING
    + """
service "api" {
  compute_pool = compute_pool.cpu
  model        = training.boost.model_uri
  functions    = ["predict", "explain"]
}
"""
)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_explain_on_an_xgboost_model_fails_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    write_parquet(tmp_path / "data" / "train.parquet", f0=[1.0, 2.0], label=[0, 1])
    (tmp_path / "main.hcl").write_text(HCL)
    args = [command] + (["-auto-approve"] if command == "apply" else [])
    code, text = run(capsys, tmp_path, *args)
    assert code == 1
    assert "Error: Unknown function" in text and "on main.hcl line 18:" in text
    assert (
        'service.api lists function "explain", but the model of training.boost (xgboost) offers only predict, predict_proba'
        in text
    )
    assert not (tmp_path / ".mlrt" / "pools").exists()
