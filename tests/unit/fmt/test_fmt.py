"""`mlrt fmt`: data-driven layout cases, idempotence, examples, syntax errors, paths and diffs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import hcl2
import pytest

from mlrt_iac.config.fmt import FmtResult, format_paths, format_source, unified_diff, write_changes

CASES = Path(__file__).parent / "cases"
REPO = Path(__file__).resolve().parents[3]
CASE_NAMES = sorted(p.name[: -len(".in.hcl")] for p in CASES.glob("*.in.hcl"))
EXAMPLE_FILES = sorted((REPO / "examples").rglob("*.hcl"))


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def _leaf_tokens(text: str) -> tuple[list[str], str]:
    """python-hcl2's own tokens: the code tokens (spaces dropped) and all comment text.

    An oracle independent of the formatter's lexer: formatting may only move whitespace.
    """
    tree = hcl2.parses_to_tree(text.replace("\r\n", "\n"))
    code: list[str] = []
    comments: list[str] = []
    for tok in tree.scan_values(lambda v: hasattr(v, "type")):
        if tok.type == "NL_OR_COMMENT":
            comments.append("".join(str(tok).split()))
        elif tok.type.startswith("HEREDOC"):
            code.append(str(tok))
        else:
            code.append(str(tok).strip())
    return code, "".join(comments)


def test_cases_were_found() -> None:
    assert len(CASE_NAMES) >= 10
    for name in CASE_NAMES:
        assert (CASES / f"{name}.out.hcl").is_file(), f"{name}.in.hcl has no .out.hcl"


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_formats_to_expected(name: str) -> None:
    source = _read(CASES / f"{name}.in.hcl")
    expected = _read(CASES / f"{name}.out.hcl")
    out, diags = format_source(source, f"{name}.in.hcl")
    assert not diags, diags
    assert out == expected


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_is_idempotent(name: str) -> None:
    once, _ = format_source(_read(CASES / f"{name}.in.hcl"), "x.hcl")
    twice, diags = format_source(once, "x.hcl")
    assert not diags
    assert twice == once
    expected = _read(CASES / f"{name}.out.hcl")
    assert format_source(expected, "x.hcl")[0] == expected


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_changes_only_whitespace(name: str) -> None:
    source = _read(CASES / f"{name}.in.hcl")
    out, _ = format_source(source, "x.hcl")
    assert _leaf_tokens(out) == _leaf_tokens(source)
    assert _comparable(hcl2.loads(out)) == _comparable(hcl2.loads(source.replace("\r\n", "\n")))


def _comparable(value: object, in_comment: bool = False) -> object:
    """python-hcl2's value with trailing spaces inside comments dropped (fmt removes those)."""
    if isinstance(value, dict):
        return {k: _comparable(v, in_comment or "comment" in k) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v, in_comment) for v in value]
    if in_comment and isinstance(value, str):
        return "\n".join(part.rstrip() for part in value.split("\n"))
    return value


def test_output_has_no_trailing_whitespace_outside_heredocs() -> None:
    for name in CASE_NAMES:
        if name == "heredocs":
            continue
        out, _ = format_source(_read(CASES / f"{name}.in.hcl"), "x.hcl")
        assert all(line == line.rstrip() for line in out.split("\n")), name
        assert out == "" or (out.endswith("\n") and not out.endswith("\n\n")), name


def test_examples_exist() -> None:
    folders = {p.parent.relative_to(REPO / "examples").parts[0] for p in EXAMPLE_FILES}
    assert {"quickstart", "multi-team"} <= folders


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_examples_are_canonical(path: Path) -> None:
    text = _read(path)
    hcl2.loads(text)
    out, diags = format_source(text, str(path))
    assert not diags
    assert out == text, f"{path} is not formatted; run mlrt fmt -recursive examples"


@pytest.mark.parametrize(
    ("source", "line", "column", "summary"),
    [
        ('compute_pool "a" {\n  max_nodes = 1\n', 3, 1, "Unexpected end of file"),
        ('compute_pool "a" {\n  max_nodes = = 2\n}\n', 2, 15, "Invalid syntax"),
        ('x = "unterminated\ny = 1\n', 1, 5, "Unterminated template string"),
        ('network_rule "r" {\n  mode = "EGRESS"\n  value_list = [1 2]\n}\n', 3, 19, "Invalid syntax"),
        ("a = <<EOT\nnever closed\n", 1, 5, "Unterminated heredoc"),
        ("/* open comment\nx = 1\n", 1, 1, "Unterminated comment"),
        ("x = 1 @ 2\n", 1, 7, "Invalid syntax"),
    ],
)
def test_syntax_error_gives_positioned_diagnostic_and_no_output(
    source: str, line: int, column: int, summary: str
) -> None:
    out, diags = format_source(source, "bad.hcl")
    assert out == ""
    assert diags.has_errors
    first = diags.errors()[0]
    assert first.range is not None
    assert (first.range.filename, first.range.start.line, first.range.start.column) == (
        "bad.hcl",
        line,
        column,
    )
    assert first.detail
    assert first.summary == summary


def test_garbage_is_an_error_not_a_hang() -> None:
    garbage = bytes(range(256)).decode("latin-1") * 20_000  # ~5 MB
    out, diags = format_source(garbage, "garbage.hcl")
    assert out == ""
    assert diags.has_errors
    assert len(diags[0].detail) < 400


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_format_paths_directory_recursive_and_write(tmp_path: Path) -> None:
    messy = _write(tmp_path / "main.hcl", "a=1\nbbb = 2\n")
    clean = _write(tmp_path / "ok.hcl", "a = 1\n")
    nested = _write(tmp_path / "modules" / "team" / "main.hcl", "x   =  1\n")
    _write(tmp_path / ".mlrt" / "cache.hcl", "x=1\n")
    _write(tmp_path / "notes.txt", "x=1\n")
    os.chmod(messy, 0o640)

    flat = format_paths([tmp_path], recursive=False)
    assert [r.path for r in flat] == [messy, clean]
    assert [r.changed for r in flat] == [True, False]

    deep = format_paths([tmp_path], recursive=True)
    assert [r.path for r in deep] == [messy, clean, nested]

    written = write_changes(deep)
    assert written == [messy, nested]
    assert messy.read_text() == "a   = 1\nbbb = 2\n"
    assert nested.read_text() == "x = 1\n"
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640
    assert not any(r.changed for r in format_paths([tmp_path], recursive=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".mlrt",
        "main.hcl",
        "modules",
        "notes.txt",
        "ok.hcl",
    ]


def test_format_paths_reports_bad_files_without_touching_them(tmp_path: Path) -> None:
    latin = tmp_path / "latin.hcl"
    latin.write_bytes(b'a = 1\nb = "caf\xe9"\n')
    broken = _write(tmp_path / "broken.hcl", "a = {\n")
    missing = tmp_path / "nope.hcl"

    results = format_paths([latin, broken, missing], recursive=False)
    assert [r.path for r in results] == [latin, broken, missing]
    enc = results[0].diagnostics.errors()[0]
    assert enc.summary == "Invalid file encoding"
    assert enc.range is not None and (enc.range.start.line, enc.range.start.column) == (2, 9)
    assert results[1].diagnostics.has_errors
    assert results[1].formatted == results[1].original == "a = {\n"
    assert results[2].diagnostics.errors()[0].summary == "No such file or directory"
    assert not any(r.changed for r in results)
    assert write_changes(results) == []
    assert broken.read_text() == "a = {\n"


def test_unified_diff_shows_the_change(tmp_path: Path) -> None:
    path = _write(tmp_path / "main.hcl", "a=1\nbb = 2\n")
    [result] = format_paths([path], recursive=False)
    diff = unified_diff(result)
    assert diff.startswith(f"--- old/{path.as_posix()}\n+++ new/{path.as_posix()}\n")
    assert "-a=1\n" in diff and "+a  = 1\n" in diff and "-bb = 2\n" not in diff
    same = FmtResult(path, "a = 1\n", "a = 1\n", False)
    assert unified_diff(same) == ""


def _protected_lines(text: str) -> set[int]:
    """1-based lines that start inside a heredoc or block comment (python-hcl2's positions)."""
    inside: set[int] = set()
    for tok in hcl2.parses_to_tree(text).scan_values(lambda v: hasattr(v, "type")):
        value = str(tok)
        if tok.type.startswith("HEREDOC") or (tok.type == "NL_OR_COMMENT" and value.startswith("/*")):
            inside.update(range(tok.line + 1, tok.line + value.rstrip("\n").count("\n") + 1))
    return inside


@pytest.mark.parametrize("name", CASE_NAMES)
def test_layout_does_not_depend_on_input_indentation(name: str) -> None:
    import random

    source = _read(CASES / f"{name}.in.hcl").replace("\r\n", "\n")
    expected, _ = format_source(source, "x.hcl")
    protected = _protected_lines(source)
    rng = random.Random(name)
    for _ in range(5):
        lines = source.split("\n")
        for i, line in enumerate(lines, start=1):
            if i in protected or not line.strip():
                continue
            trailing = "" if "<<" in line else rng.choice(["", "  ", "\t"])  # `<<EOT` must end its line
            lines[i - 1] = rng.choice(["", " ", "\t", "      "]) + line.lstrip(" \t") + trailing
        mangled = "\n".join(lines)
        assert mangled != source or name in ("empty",)
        out, diags = format_source(mangled, "x.hcl")
        assert not diags
        assert out == expected
