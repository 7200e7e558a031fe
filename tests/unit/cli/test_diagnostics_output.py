"""What a user sees when a configuration is wrong: Terraform-style errors, exit 1, no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlrt_iac.cli.main import main

POOL_TYPO = """compute_pool "cpu" {
  instance_family = "CPU_X64_S"
  max_nodez       = 3
}
"""

TWO_PROBLEMS = """compute_pool "cpu" {
  instance_family = "CPU_X64_S"
  min_nodes       = 3
  max_nodes       = 1
}

network_rule "bad" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["bad host:99999"]
}
"""


def _run(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str, str]:
    code = main(["-chdir", str(project), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "main.hcl").write_text(text)
    return tmp_path


def test_unknown_argument_names_file_line_and_suggests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, _project(tmp_path, POOL_TYPO), "validate", "-no-color")
    assert code == 1
    assert "Error: Unsupported argument" in err
    assert "on main.hcl line 3" in err
    assert "max_nodez       = 3" in err
    assert 'Did you mean "max_nodes"?' in err
    assert "Traceback" not in err


def test_every_problem_is_reported_in_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, _project(tmp_path, TWO_PROBLEMS), "validate", "-no-color")
    assert code == 1
    assert err.count("Error:") >= 2
    assert "line 3" in err or "line 4" in err
    assert "line 10" in err


def test_validate_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, _project(tmp_path, POOL_TYPO), "validate", "-json")
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False
    assert doc["error_count"] == 1
    d = doc["diagnostics"][0]
    assert d["severity"] == "error"
    assert d["summary"] == "Unsupported argument"
    assert d["range"]["filename"] == "main.hcl"
    assert d["range"]["start"]["line"] == 3
    assert d["range"]["start"]["column"] >= 1


def test_syntax_error_points_at_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, _project(tmp_path, 'compute_pool "cpu" {\n  instance_family = \n}\n'), "validate", "-no-color"
    )
    assert code == 1
    assert "Error:" in err
    assert "main.hcl line" in err
    assert "Traceback" not in err


def test_empty_directory_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, tmp_path, "validate", "-no-color")
    assert code == 1
    assert "Error:" in err
    assert "configuration" in err.lower()


def test_valid_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        _project(tmp_path, 'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n}\n'),
        "validate",
        "-no-color",
    )
    assert code == 0
    assert "Success!" in out


def test_fmt_check_exits_3_and_fmt_rewrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, 'compute_pool "cpu" {\ninstance_family="CPU_X64_S"\n    min_nodes = 1\n}\n')
    code, out, _ = _run(capsys, project, "fmt", "-check", "-diff")
    assert code == 3
    # paths relative to the working directory, as terraform fmt lists them (not absolute)
    assert out.startswith("main.hcl\n--- old/main.hcl\n+++ new/main.hcl\n")
    assert (project / "main.hcl").read_text().startswith('compute_pool "cpu" {\ninstance_family')
    code, _, _ = _run(capsys, project, "fmt")
    assert code == 0
    assert (project / "main.hcl").read_text() == (
        'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n  min_nodes       = 1\n}\n'
    )
    code, _, _ = _run(capsys, project, "fmt", "-check")
    assert code == 0


@pytest.mark.parametrize("example", ["quickstart", "multi-team", "gitops", "ray"])
def test_examples_validate_and_are_formatted(
    example: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a copy of the folder (ray reads ../quickstart/data): validating writes .mlrt/, which must
    # not land in the tree
    source = Path(__file__).resolve().parents[3] / "examples"
    shutil.copytree(source, tmp_path / "examples", ignore=shutil.ignore_patterns(".mlrt"))
    path = tmp_path / "examples" / example
    code, out, err = _run(capsys, path, "validate", "-no-color")
    assert code == 0, err
    code, out, err = _run(capsys, path, "fmt", "-check", "-recursive")
    assert code == 0, out + err
