"""dynamic blocks make the same nested blocks as writing them out (labelled, repeated, nested),
bind their iterator only inside content and labels, and report bad input on its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlrt_iac.errors import DiagnosticsError
from mlrt_iac.plan.project import open_project

RULE = """
network_rule "r" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["a.example.com:443"]
}
"""


def _evaluate(tmp_path: Path, body: str) -> tuple[dict[str, Any], list[str], dict[str, set[str]]]:
    (tmp_path / "main.hcl").write_text('mlrt {\n  default_provider = "test"\n}\n' + RULE + body)
    try:
        ev, diags = open_project(tmp_path, []).evaluate()
    except DiagnosticsError as exc:
        return {}, [d.summary for d in exc.diagnostics], {}
    attrs = {i.address: i.attributes for i in ev.instances}
    deps = {i.address: set(i.depends_on) for i in ev.instances}
    return attrs, [d.summary for d in diags.errors()], deps


def _pool(inner: str) -> str:
    return f'compute_pool "p" {{\n  instance_family = "CPU_X64_XS"\n{inner}\n}}\n'


def test_labelled_blocks_from_a_map_equal_the_written_out_blocks(tmp_path: Path) -> None:
    written = _pool(
        '  dataset "eval" {\n    source = "e.parquet"\n    rule = network_rule.r.name\n  }\n'
        '  dataset "train" {\n    source = "t.parquet"\n    rule = network_rule.r.name\n  }'
    )
    dynamic = _pool(
        '  dynamic "dataset" {\n'
        '    for_each = { train = "t.parquet", eval = "e.parquet" }\n'
        "    iterator = ds\n"
        "    labels   = [ds.key]\n"
        "    content {\n"
        "      source = ds.value\n"
        "      rule   = network_rule.r.name\n"
        "    }\n"
        "  }"
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    want, errs_a, _ = _evaluate(tmp_path / "a", written)
    got, errs_b, deps = _evaluate(tmp_path / "b", dynamic)
    assert not errs_a and not errs_b, (errs_a, errs_b)
    assert got["compute_pool.p"] == want["compute_pool.p"]
    assert got["compute_pool.p"]["dataset"]["train"] == {"source": "t.parquet", "rule": "r"}
    assert deps["compute_pool.p"] == {"network_rule.r"}  # a reference inside content is a dependency


def test_repeated_unlabelled_blocks_from_a_list_and_nested_dynamic(tmp_path: Path) -> None:
    body = _pool(
        '  dynamic "step" {\n'
        '    for_each = ["x", "y"]\n'
        "    content {\n"
        "      index = step.key\n"
        "      name  = step.value\n"
        '      dynamic "part" {\n'
        "        for_each = [1, 2]\n"
        "        content {\n"
        '          id = "${step.value}-${part.value}"\n'
        "        }\n"
        "      }\n"
        "    }\n"
        "  }"
    )
    got, errs, _ = _evaluate(tmp_path, body)
    assert not errs, errs
    assert got["compute_pool.p"]["step"] == [
        {"index": 0, "name": "x", "part": [{"id": "x-1"}, {"id": "x-2"}]},
        {"index": 1, "name": "y", "part": [{"id": "y-1"}, {"id": "y-2"}]},
    ]


def test_an_empty_collection_makes_no_block(tmp_path: Path) -> None:
    got, errs, _ = _evaluate(
        tmp_path, _pool('  dynamic "step" {\n    for_each = []\n    content {\n      a = 1\n    }\n  }')
    )
    assert not errs and "step" not in got["compute_pool.p"]


def test_bad_dynamic_blocks_are_errors(tmp_path: Path) -> None:
    cases = {
        "Invalid dynamic for_each value": '  dynamic "s" {\n    for_each = 3\n    content {\n      a = 1\n    }\n  }',
        "Invalid dynamic block": '  dynamic "s" {\n    for_each = [1]\n  }',
        "Unsupported argument": '  dynamic "s" {\n    for_each = [1]\n    when = 1\n    content {\n      a = 1\n    }\n  }',
    }
    for i, (summary, inner) in enumerate(cases.items()):
        d = tmp_path / str(i)
        d.mkdir()
        _, errs, _ = _evaluate(d, _pool(inner))
        assert summary in errs, (summary, errs)


def test_the_iterator_is_unbound_outside_its_content(tmp_path: Path) -> None:
    inner = '  dynamic "s" {\n    for_each = [1]\n    content {\n      a = s.value\n    }\n  }\n  comment = s.value'
    _, errs, _ = _evaluate(tmp_path, _pool(inner))
    assert errs, "a reference to the iterator outside content must be an error"
