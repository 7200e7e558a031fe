"""Denial of service through configuration (issue 15 item 10 and the Low items): each input
that used to hang, exhaust memory or crash with an internal error is now an `Error:` with the
file and line, found quickly. Run through the real CLI, as CI runs `mlrt validate` on a PR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security.helpers import run_cli, user_env, write_project

RULE_BODY = """  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org"]
"""


def _doubling(steps: int) -> str:
    lines = ["locals {", '  s0 = "abcdefgh"']
    lines += [f'  s{i} = "${{local.s{i - 1}}}${{local.s{i - 1}}}"' for i in range(1, steps + 1)]
    return "\n".join([*lines, "}", f'output "o" {{ value = length(local.s{steps}) }}', ""])


CASES = {
    "count_infinite": (
        f'network_rule "r" {{\n  count = 1e309\n{RULE_BODY}}}\n',
        "Invalid count argument",
        2,
    ),
    "count_35_digits": (
        f'network_rule "r" {{\n  count = {10**34}\n{RULE_BODY}}}\n',
        "Invalid count argument",
        2,
    ),
    "for_each_too_many": (
        f'network_rule "r" {{\n  for_each = toset(flatten([for i in range(200) : [for j in range(200) : "${{i}}-${{j}}"]]))\n{RULE_BODY}}}\n',
        "Invalid for_each argument",
        2,
    ),
    "number_5000_digits": (f"locals {{\n  x = {'9' * 5000}\n}}\n", "Invalid number literal", 2),
    "plus_500_terms": (f"locals {{\n  x = {'+'.join(['1'] * 500)}\n}}\n", "Expression too complex", None),
    "string_doubling": (_doubling(34), "Value too large", None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_configuration_is_an_error_with_a_location(tmp_path: Path, case: str) -> None:
    text, summary, line = CASES[case]
    project = write_project(tmp_path / "p", {"main.hcl": text})
    res = run_cli(project, "validate", env=user_env(tmp_path))
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"Error: {summary}" in res.stderr, res.stderr[-2000:]
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr
    assert "on main.hcl line" in res.stderr
    if line is not None:
        assert f"on main.hcl line {line}:" in res.stderr


def test_fifo_and_dangling_symlink_named_hcl_are_errors_not_skipped(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": f'network_rule "r" {{\n{RULE_BODY}}}\n'})
    os.mkfifo(project / "pipe.hcl")
    (project / "gone.hcl").symlink_to(tmp_path / "nowhere.hcl")
    res = run_cli(project, "validate", env=user_env(tmp_path))
    assert res.returncode == 1
    assert "pipe.hcl is not a regular file" in res.stderr
    assert "gone.hcl is a dangling symbolic link" in res.stderr


def test_dataset_source_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.fs as pafs

    from mlrt_iac.runtime import sources

    fs = pafs.LocalFileSystem()
    with pytest.raises(sources.DataSourceError, match="NUL"):
        sources._list_files(fs, str(tmp_path / "a\0b.parquet"), "a\\0b.parquet")
    wide = tmp_path / "wide"
    for i in range(12):
        (wide / f"d{i}").mkdir(parents=True)
    monkeypatch.setattr(sources, "MAX_GLOB_ENTRIES", 10)
    with pytest.raises(sources.DataSourceError, match="more than 10 files and directories"):
        sources._list_files(fs, f"{wide}/**/*.parquet", "wide/**/*.parquet")


FUNCTION_CASES = {
    # (a+)+$ takes exponential time in a backtracking engine; RE2 answers at once
    "redos": ('output "o" {\n  value = regexall("(a+)+$", "%s!")\n}\n' % ("a" * 60), None),
    "dev_zero": ('output "o" {\n  value = file("/dev/zero")\n}\n', "is not a regular file"),
    "jsonencode_infinity": ('output "o" {\n  value = jsonencode(1e309)\n}\n', "infinite or NaN"),
    "jsondecode_nan": ('output "o" {\n  value = jsondecode("NaN")\n}\n', "NaN is not a JSON value"),
    "format_index_zero": ('output "o" {\n  value = format("%[0]d", 1)\n}\n', "indexes count from 1"),
}


@pytest.mark.parametrize("case", sorted(FUNCTION_CASES))
def test_hostile_function_calls_end_quickly_with_a_located_error(tmp_path: Path, case: str) -> None:
    text, detail = FUNCTION_CASES[case]
    project = write_project(tmp_path / "p", {"main.hcl": text})
    res = run_cli(project, "plan", env=user_env(tmp_path))  # run_cli bounds the run to 120 s
    if detail is None:  # the ReDoS input simply does not match
        assert res.returncode == 0, res.stderr
        assert "o = []" in res.stdout
        return
    assert res.returncode == 1, res.stdout + res.stderr
    assert detail in res.stderr and "on main.hcl line 2:" in res.stderr
    assert "internal error" not in res.stderr


def test_file_of_a_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": 'output "o" {\n  value = file("pipe")\n}\n'})
    os.mkfifo(project / "pipe")
    res = run_cli(project, "plan", env=user_env(tmp_path))
    assert res.returncode == 1
    assert "'pipe' is not a regular file" in res.stderr


def test_deeply_nested_json_var_file_and_state_are_errors(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": 'variable "v" {\n  type = any\n}\n'})
    deep = "[" * 5000 + "]" * 5000
    (tmp_path / "deep.json").write_text('{"v": ' + deep + "}")
    res = run_cli(project, "plan", "-var-file", str(tmp_path / "deep.json"), env=user_env(tmp_path))
    assert res.returncode == 1 and "The JSON nests too deeply to read" in res.stderr
    assert "internal error" not in res.stderr
    # the long offending line is shown as a window around the error, not 10,000 characters
    assert max(len(line) for line in res.stderr.splitlines()) < 200
    project = write_project(tmp_path / "q", {"main.hcl": 'output "o" {\n  value = 1\n}\n'})
    (project / ".mlrt" / "state").mkdir(parents=True)
    (project / ".mlrt" / "state" / "mlrt.state.json").write_text('{"version": 1, "x": ' + deep + "}")
    res = run_cli(project, "plan", env=user_env(tmp_path))
    assert res.returncode == 1 and "nests too deeply to read" in res.stderr
    assert "internal error" not in res.stderr
