"""Every bad input of issue 2 that belongs to the config layer: summary, file and line."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from mlrt_iac.config import load_config

from .helpers import run, summaries

POOL = 'compute_pool "p" {\n  instance_family = "CPU_X64_S"\n}\n'

BAD = [
    ("syntax error", 'compute_pool "p" {\n  min_nodes = = 1\n}\n', "Syntax error", 2),
    ("unclosed brace", 'compute_pool "p" {\n  min_nodes = 1\n', "Unexpected end of file", 2),
    ("unknown block type", POOL + 'trainig "t" {\n}\n', "Unsupported block type", 4),
    (
        "undeclared resource",
        POOL + 'service "s" {\n  compute_pool = compute_pool.nope\n}\n',
        "Reference to undeclared resource",
        5,
    ),
    (
        "undeclared variable",
        POOL + "locals {\n  a = var.nope\n}\n",
        "Reference to undeclared input variable",
        5,
    ),
    ("undeclared local", POOL + "locals {\n  a = local.nope\n}\n", "Reference to undeclared local value", 5),
    ("duplicate address", POOL + POOL, "Duplicate resource", 4),
    (
        "missing required variable",
        'variable "a" {\n  type = string\n}\n',
        "No value for required variable",
        1,
    ),
    (
        "failing validation",
        'variable "n" {\n  default = 0\n  validation {\n    condition = var.n > 0\n'
        '    error_message = "n must be positive."\n  }\n}\n',
        "Invalid value for variable",
        4,
    ),
    (
        "for_each over a list",
        'compute_pool "p" {\n  for_each = ["a", "b"]\n  instance_family = "x"\n}\n',
        "Invalid for_each argument",
        2,
    ),
    (
        "for_each over unknown",
        POOL + 'training "t" {\n  for_each = toset([compute_pool.p.address])\n}\n',
        "Invalid for_each argument",
        5,
    ),
    (
        "count over unknown",
        POOL + 'training "t" {\n  count = length(compute_pool.p.nodes)\n}\n',
        "Invalid count argument",
        5,
    ),
    (
        "each without for_each",
        'compute_pool "p" {\n  labels = { a = each.key }\n}\n',
        'Reference to "each" in context without for_each',
        2,
    ),
    (
        "wrong default type",
        'variable "n" {\n  type = number\n  default = "abc"\n}\n',
        "Invalid value for input variable",
        1,
    ),
    (
        "non-local module source",
        'module "m" {\n  source = "git::https://x"\n}\n',
        "Unsupported module source",
        2,
    ),
    (
        "sensitive output",
        'variable "s" {\n  default = "x"\n  sensitive = true\n}\noutput "o" {\n  value = var.s\n}\n',
        "Output refers to sensitive values",
        5,
    ),
    ("string provider", POOL.replace("{\n", '{\n  provider = "ray"\n', 1), "Invalid provider reference", 2),
    (
        "bad duration",
        'compute_pool "p" {\n  timeouts {\n    create = "soon"\n  }\n}\n',
        "Invalid duration",
        3,
    ),
]


@pytest.mark.parametrize("name,text,summary,line", BAD, ids=[b[0] for b in BAD])
def test_bad_input(tmp_path: Path, name: str, text: str, summary: str, line: int) -> None:
    _, diags = run(tmp_path, {"main.hcl": text})
    errs = [d for d in diags.errors() if d.summary == summary]
    assert errs, f"expected {summary!r}, got {summaries(diags)}"
    assert errs[0].range is not None and errs[0].range.filename == "main.hcl"
    assert errs[0].range.start.line == line
    assert errs[0].detail


def test_for_each_unknown_wording(tmp_path: Path) -> None:
    _, diags = run(tmp_path, {"main.hcl": BAD[10][1]})
    d = next(x for x in diags.errors() if x.summary == "Invalid for_each argument")
    assert "known only after apply" in d.detail and "-target" in d.detail


def test_all_errors_reported_in_one_run(tmp_path: Path) -> None:
    text = (
        'variable "a" {}\nvariable "b" {}\nvariable "c" {\n  default = 1\n}\n'
        "locals {\n  x = var.nope\n  y = local.zip\n}\n"
    )
    _, diags = run(tmp_path, {"main.hcl": text})
    s = summaries(diags)
    assert s.count("No value for required variable") == 2
    assert "Reference to undeclared input variable" in s and "Reference to undeclared local value" in s
    missing = [d for d in diags.errors() if d.summary == "No value for required variable"]
    assert {d.range.start.line for d in missing if d.range} == {1, 2}


def test_error_does_not_cascade(tmp_path: Path) -> None:
    text = 'locals {\n  a = 1 + "x"\n  b = local.a * 2\n  c = "${local.b}!"\n}\ntraining "t" {\n  count = local.c\n}\n'
    _, diags = run(tmp_path, {"main.hcl": text})
    assert summaries(diags) == ["Invalid operand"]


def test_did_you_mean(tmp_path: Path) -> None:
    _, diags = run(tmp_path, {"main.hcl": POOL + 'service "s" {\n  compute_pool = compute_pool.q\n}\n'})
    assert 'Did you mean "compute_pool.p"' in diags.errors()[0].detail
    _, diags = run(tmp_path, {"main.hcl": 'trainin "t" {\n}\n'})
    assert 'Did you mean "training"' in diags.errors()[0].detail


def test_cycle(tmp_path: Path) -> None:
    text = 'training "a" {\n  comment = service.b.name\n}\nservice "b" {\n  model = training.a.model_uri\n}\n'
    _, diags = run(tmp_path, {"main.hcl": text})
    cyc = [d for d in diags.errors() if d.summary.startswith("Cycle: ")]
    assert len(cyc) == 1
    s = cyc[0].summary
    assert s in (
        "Cycle: training.a -> service.b -> training.a",
        "Cycle: service.b -> training.a -> service.b",
    )
    assert {r.start.line for r in cyc[0].related} == {2, 5}


def test_cycle_through_locals(tmp_path: Path) -> None:
    text = "locals {\n  a = local.b\n  b = local.a\n}\n"
    _, diags = run(tmp_path, {"main.hcl": text})
    assert any(d.summary.startswith("Cycle: local.") for d in diags.errors())


def test_empty_directory(tmp_path: Path) -> None:
    _, diags = load_config(tmp_path)
    assert summaries(diags) == ["No configuration files"]


def test_non_utf8(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_bytes(b'compute_pool "p" {\n  comment = "caf\xe9"\n}\n')
    _, diags = load_config(tmp_path, cache_dir=tmp_path / ".c")
    d = diags.errors()[0]
    assert d.summary == "Invalid file encoding"
    assert "main.hcl" in d.detail and "byte offset 35" in d.detail and d.range and d.range.start.line == 2


@pytest.mark.parametrize("mb", [5, 3])
@pytest.mark.parametrize("kind", ["random-bytes", "printable", "braces", "heredoc", "comment"])
def test_garbage_fails_fast(tmp_path: Path, kind: str, mb: int) -> None:
    """5 MB hits the size limit; 3 MB goes through the nesting guard and the real parser."""
    rnd = random.Random(42)
    size = mb * 1024 * 1024
    if kind == "random-bytes":
        data = rnd.randbytes(size)
    elif kind == "printable":
        alphabet = b"abc{}[]()=\"'#$%.,: \n"
        data = rnd.randbytes(size).translate(bytes(alphabet[i % len(alphabet)] for i in range(256)))
    elif kind == "braces":
        data = b"a {\n" * (size // 4)
    elif kind == "heredoc":
        data = b"a = <<EOT\n" + b"  x\n" * (size // 4)
    else:
        data = b"/*" + b"x" * size
    (tmp_path / "garbage.hcl").write_bytes(data)
    t0 = time.perf_counter()
    _, diags = load_config(tmp_path, cache_dir=tmp_path / ".c")
    took = time.perf_counter() - t0
    assert diags.has_errors
    assert diags.errors()[0].range is not None
    assert took < 30, f"{kind}: {took:.1f}s"
