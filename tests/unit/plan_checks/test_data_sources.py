"""Plan-time data checks (issue 14, problem 3): a missing source, a label_col or input_cols
entry not in the file, non-numeric columns for xgboost/lightgbm, each an error on the
dataset's line before anything is created, with the file's columns listed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import run, write_parquet

POOL = """compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
}
"""


def _training(dataset: str, framework: str = "xgboost") -> str:
    return (
        POOL
        + f"""
training "boost" {{
  compute_pool = compute_pool.cpu
  framework    = "{framework}"
{dataset}
}}
"""
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_parquet(tmp_path / "data" / "train.parquet", f0=[1.0, 2.0], f1=[1, 2], label=[0, 1])
    return tmp_path


def test_missing_source_is_a_plan_error_on_its_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "main.hcl").write_text(
        _training('  dataset "train" {\n    source    = "data/trian.parquet"\n    label_col = "label"\n  }')
    )
    code, text = run(capsys, project, "plan")
    assert code == 1
    assert "Error: Data source not found" in text
    assert "on main.hcl line 9:" in text and 'source    = "data/trian.parquet"' in text
    assert "Data source 'data/trian.parquet' does not exist: check the path." in text
    assert ".." not in text.replace("...", "")
    assert not (project / ".mlrt" / "pools").exists()  # nothing was created


def test_missing_label_and_input_columns_list_the_file_columns_once(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "main.hcl").write_text(
        _training(
            '  dataset "train" {\n    source     = "data/train.parquet"\n'
            '    input_cols = ["f0", "height", "weight"]\n    label_col  = "labl"\n  }'
        )
    )
    code, text = run(capsys, project, "plan")
    assert code == 1
    assert "Error: Label column not found" in text and "on main.hcl line 11:" in text
    assert (
        'training.boost, dataset "train": label_col "labl" is not a column of data/train.parquet. '
        'Did you mean "label"? Its columns: f0, f1, label.'
    ) in text
    assert "Error: Input columns not found" in text and "on main.hcl line 10:" in text
    assert 'input_cols lists "height", "weight", not columns of data/train.parquet.' in text
    assert text.count("Its columns: f0, f1, label.") == 2  # once per error, no raw schema dump
    assert "__fragment_index" not in text and "-- schema metadata --" not in text


def test_boosted_frameworks_need_numeric_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_parquet(tmp_path / "data" / "train.parquet", f0=[1.0, 2.0], city=["a", "b"], label=["no", "yes"])
    (tmp_path / "main.hcl").write_text(
        _training(
            '  dataset "train" {\n    source    = "data/train.parquet"\n    label_col = "label"\n  }',
            "lightgbm",
        )
    )
    code, text = run(capsys, tmp_path, "plan")
    assert code == 1
    assert "Error: Feature columns are not numeric" in text
    assert (
        "lightgbm trains on numeric columns (integer, floating point or boolean), but in data/train.parquet this one is not: city (string)."
        in text
    )
    assert "Error: Label column is not numeric" in text
    assert 'label_col "label" is string in data/train.parquet' in text


def test_eval_set_must_have_the_training_features(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_parquet(project / "data" / "eval.parquet", f0=[1.0], label=[1])
    (project / "main.hcl").write_text(
        _training(
            '  dataset "train" {\n    source    = "data/train.parquet"\n    label_col = "label"\n  }\n'
            '  dataset "eval" {\n    source    = "data/eval.parquet"\n    label_col = "label"\n  }'
        )
    )
    code, text = run(capsys, project, "plan")
    assert code == 1
    assert "Error: Evaluation data lacks training features" in text
    assert 'data/eval.parquet has no "f1"' in text


def test_good_data_plans(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_parquet(project / "data" / "more" / "part-0.parquet", f0=[1.0], f1=[3], label=[1])
    (project / "main.hcl").write_text(
        _training(
            '  dataset "train" {\n    source     = ["data/train.parquet", "data/more"]\n'
            '    input_cols = ["f0", "f1"]\n    label_col  = "label"\n  }'
        )
    )
    code, text = run(capsys, project, "plan")
    assert code == 0, text
    assert "Plan: 2 to add" in text
