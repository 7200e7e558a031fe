"""Plan-time errors for what a service's model cannot offer (issue 12, item 4): an unknown function
for the training's framework and a PyTorch model without model_class, each with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.cli.main import main

HCL = """compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

training "net" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "train:main"
}

training "boost" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "y"
  }
}

service "torch_api" {
  compute_pool = compute_pool.cpu
  model        = training.net.model_uri
}

service "boost_api" {
  compute_pool = compute_pool.cpu
  model        = training.boost.model_uri
  functions    = ["predict", "encode"]
  depends_on   = [training.net]
}
"""

FIXED = HCL.replace(
    "  model        = training.net.model_uri\n",
    '  model        = training.net.model_uri\n  model_class  = "net:Net"\n  functions    = ["predict", "embed"]\n',
).replace('["predict", "encode"]', '["predict", "predict_proba"]')


def _run(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str]:
    code = main(["-chdir", str(project), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_unknown_function_and_missing_model_class_are_plan_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    (tmp_path / "main.hcl").write_text(HCL)
    code, text = _run(capsys, tmp_path, command, "-no-color")
    assert code == 1
    assert "Traceback" not in text
    missing, unknown = text.split("Error: Unknown function")
    assert "Error: Missing required argument" in missing
    assert "on main.hcl line 21:" in missing and 'service "torch_api" {' in missing
    assert "on main.hcl line 5 (related):" in missing
    assert (
        "service.torch_api serves the model of training.net, a pytorch training, but has no model_class"
        in missing
    )
    assert "on main.hcl line 29:" in unknown and '["predict", "encode"]' in unknown
    assert "on main.hcl line 11 (related):" in unknown
    assert (
        'service.boost_api lists function "encode", but the model of training.boost (xgboost) offers only predict, predict_proba'
        in unknown
    )


def test_model_class_and_framework_functions_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.hcl").write_text(FIXED)
    code, text = _run(capsys, tmp_path, "validate", "-no-color")
    assert code == 0, text


def test_model_class_must_be_module_colon_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.hcl").write_text(FIXED.replace('"net:Net"', '"net.Net"'))
    code, text = _run(capsys, tmp_path, "validate", "-no-color")
    assert code == 1
    assert "on main.hcl line 24:" in text
    assert 'model_class "net.Net" is not of the form "module:Name"' in text
