"""check blocks: a false assert is a warning at plan and again after apply (never an error),
evaluated per module instance; malformed blocks and undeclared references are errors."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.apply.engine import ApplyOptions, apply_plan
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import DiagnosticsError
from mlrt_iac.plan.planner import PlanOptions, make_plan
from mlrt_iac.plan.project import open_project
from mlrt_iac.state import discover_backends, read_or_new

HEAD = 'mlrt {\n  default_provider = "test"\n}\n'
RULE = 'network_rule "r" {\n  mode = "EGRESS"\n  type = "HOST_PORT"\n  value_list = ["a.example.com:443", "b.example.com:443"]\n}\n'


def check(condition: str, extra: str = "") -> str:
    return (
        f'check "hosts" {{\n  assert {{\n    condition     = {condition}\n'
        f'    error_message = "Got ${{length(network_rule.r.value_list)}} hosts."\n  }}\n{extra}}}\n'
    )


def _plan(root: Path, body: str) -> tuple[object, Diagnostics]:
    (root / "main.hcl").write_text(HEAD + body)
    backend = discover_backends()["local"](root, {})
    return make_plan(open_project(root, []), read_or_new(backend), PlanOptions())


def _summaries(root: Path, body: str) -> tuple[list[str], list[str]]:
    try:
        _, diags = _plan(root, body)
    except DiagnosticsError as exc:
        return [d.summary for d in exc.diagnostics], []
    return [d.summary for d in diags.errors()], [d.summary for d in diags.warnings()]


def test_a_false_assert_warns_at_plan_and_after_apply(tmp_path: Path) -> None:
    body = RULE + check("length(network_rule.r.value_list) < 2")
    plan, diags = _plan(tmp_path, body)
    assert not diags.has_errors
    warns = diags.warnings()
    assert [w.summary for w in warns] == ["Check block assertion failed: check.hosts"]
    assert (
        warns[0].detail == "Got 2 hosts." and warns[0].range is not None and warns[0].range.start.line == 11
    )
    backend = discover_backends()["local"](tmp_path, {})
    res = apply_plan(open_project(tmp_path, []), plan, backend, read_or_new(backend), ApplyOptions())  # type: ignore[arg-type]
    assert not res.errors and res.done == {"network_rule.r": "create"}
    assert [w.summary for w in res.warnings] == ["Check block assertion failed: check.hosts"]


def test_a_true_assert_is_silent(tmp_path: Path) -> None:
    errors, warnings = _summaries(tmp_path, RULE + check("length(network_rule.r.value_list) == 2"))
    assert errors == [] and warnings == []


def test_checks_run_per_module_instance(tmp_path: Path) -> None:
    mod = tmp_path / "modules" / "m"
    mod.mkdir(parents=True)
    (mod / "main.hcl").write_text(
        'variable "n" {}\n'
        + RULE.replace("{\n", '{\n  name = "r${var.n}"\n', 1)
        + check("length(network_rule.r.value_list) > var.n")
    )
    body = 'module "m" {\n  source   = "./modules/m"\n  for_each = { a = 1, b = 5 }\n  n        = each.value\n}\n'
    errors, warnings = _summaries(tmp_path, body)
    assert errors == []
    assert warnings == ['Check block assertion failed: module.m["b"].check.hosts']


def test_bad_check_blocks_are_errors(tmp_path: Path) -> None:
    cases = {
        "Reference to undeclared resource": RULE + check("length(network_rule.nope.value_list) > 0"),
        "Invalid condition result": RULE + check('"yes"'),
        "Unsupported block type": RULE + check("true", '  data "x" "y" {\n  }\n'),
        "Missing required argument": RULE + 'check "c" {\n  assert {\n    condition = true\n  }\n}\n',
    }
    for i, (summary, body) in enumerate(cases.items()):
        d = tmp_path / str(i)
        d.mkdir()
        errors, _ = _summaries(d, body)
        assert summary in errors, (summary, errors)
