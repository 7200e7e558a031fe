"""moved and removed blocks: renaming a resource or a module plans no destroy, chains are followed,
cycles are errors, what a removed block forgets stays running; apply makes the same moves in state."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.apply.engine import ApplyOptions, apply_plan
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import DiagnosticsError
from mlrt_iac.plan.model import Plan
from mlrt_iac.plan.planner import PlanOptions, make_plan
from mlrt_iac.plan.project import open_project
from mlrt_iac.state import discover_backends, read_or_new

HEAD = 'mlrt {\n  default_provider = "test"\n}\n'
MODULE = 'network_rule "inner" {\n  mode = "EGRESS"\n  type = "HOST_PORT"\n  value_list = ["m.example.com:443"]\n}\n'


def rule(label: str, name: str | None = None) -> str:
    return (
        f'network_rule "{label}" {{\n  name = "{name or label}"\n  mode = "EGRESS"\n'
        f'  type = "HOST_PORT"\n  value_list = ["{name or label}.example.com:443"]\n}}\n'
    )


def moved(a: str, b: str) -> str:
    return f"moved {{\n  from = {a}\n  to   = {b}\n}}\n"


def _write(root: Path, body: str) -> None:
    (root / "main.hcl").write_text(HEAD + body)
    (root / "modules" / "m").mkdir(parents=True, exist_ok=True)
    (root / "modules" / "m" / "main.hcl").write_text(MODULE)


def _plan(root: Path, body: str) -> tuple[Plan, Diagnostics]:
    _write(root, body)
    backend = discover_backends()["local"](root, {})
    return make_plan(open_project(root, []), read_or_new(backend), PlanOptions())


def _apply(root: Path, body: str) -> Plan:
    plan, diags = _plan(root, body)
    assert not diags.has_errors, [d.summary + ": " + d.detail for d in diags.errors()]
    backend = discover_backends()["local"](root, {})
    res = apply_plan(open_project(root, []), plan, backend, read_or_new(backend), ApplyOptions())
    assert not res.errors, res.errors
    return plan


def _state(root: Path) -> list[str]:
    return sorted(discover_backends()["local"](root, {}).read().addresses())


def _objects(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / ".mlrt" / "test-objects" / "network_rule").glob("*.json"))


def test_renaming_a_resource_and_a_module_plans_no_destroy(tmp_path: Path) -> None:
    _apply(tmp_path, rule("old") + 'module "a" {\n  source = "./modules/m"\n}\n')
    body = (
        rule("new", "old")
        + moved("network_rule.old", "network_rule.new")
        + 'module "b" {\n  source = "./modules/m"\n}\n'
        + moved("module.a", "module.b")
    )
    plan, diags = _plan(tmp_path, body)
    assert not diags.has_errors
    assert sorted(map(tuple, plan.moves)) == [
        ("module.a.network_rule.inner", "module.b.network_rule.inner"),
        ("network_rule.old", "network_rule.new"),
    ]
    assert plan.actionable() == [] and plan.has_changes  # only the moves: they still need an apply
    _apply(tmp_path, body)
    assert _state(tmp_path) == ["module.b.network_rule.inner", "network_rule.new"]
    assert _objects(tmp_path) == ["inner", "old"]  # nothing was recreated
    again, _ = _plan(tmp_path, body)
    assert not again.has_changes and again.moves == []


def test_instances_keep_their_keys_and_chains_are_followed(tmp_path: Path) -> None:
    counted = 'network_rule "a" {\n  count = 2\n  name = "r${count.index}"\n  mode = "EGRESS"\n  type = "HOST_PORT"\n  value_list = ["x.example.com:443"]\n}\n'
    _apply(tmp_path, counted)
    body = (
        counted.replace('"a"', '"c"', 1)
        + moved("network_rule.a", "network_rule.b")
        + moved("network_rule.b", "network_rule.c")
    )
    plan, diags = _plan(tmp_path, body)
    assert not diags.has_errors
    assert sorted(map(tuple, plan.moves)) == [
        ("network_rule.a[0]", "network_rule.c[0]"),
        ("network_rule.a[1]", "network_rule.c[1]"),
    ]
    assert plan.actionable() == []


def test_cycles_are_errors_and_unmatched_statements_are_ignored(tmp_path: Path) -> None:
    _apply(tmp_path, rule("a"))
    plan, diags = _plan(tmp_path, rule("a") + moved("network_rule.zzz", "network_rule.yyy"))
    assert not diags.has_errors and plan.moves == []
    _, diags = _plan(
        tmp_path,
        rule("b") + moved("network_rule.a", "network_rule.b") + moved("network_rule.b", "network_rule.a"),
    )
    assert [d.summary for d in diags.errors()] == ["Cyclic moved blocks"]


def test_a_move_onto_an_existing_object_is_skipped_with_a_warning(tmp_path: Path) -> None:
    _apply(tmp_path, rule("a") + rule("b"))
    plan, diags = _plan(tmp_path, rule("b") + moved("network_rule.a", "network_rule.b"))
    assert plan.moves == []
    assert "Moved object still exists" in [d.summary for d in diags.warnings()]
    assert [c.address for c in plan.actionable()] == ["network_rule.a"]  # a is simply an orphan


def test_removed_with_destroy_false_forgets_and_with_destroy_true_destroys(tmp_path: Path) -> None:
    _apply(tmp_path, rule("keep") + rule("forget") + rule("drop"))
    body = (
        rule("keep")
        + "removed {\n  from = network_rule.forget\n  lifecycle {\n    destroy = false\n  }\n}\n"
        + "removed {\n  from = network_rule.drop\n}\n"
    )
    plan, diags = _plan(tmp_path, body)
    assert not diags.has_errors
    assert plan.forgets == ["network_rule.forget"]
    assert {c.address: c.action for c in plan.actionable()} == {"network_rule.drop": "delete"}
    _apply(tmp_path, body)
    assert _state(tmp_path) == ["network_rule.keep"]
    assert _objects(tmp_path) == ["forget", "keep"]  # forgotten, still there; dropped, destroyed


def test_bad_statements_are_errors(tmp_path: Path) -> None:
    _apply(tmp_path, rule("a"))
    cases = {
        "Removed resource still declared": rule("a") + "removed {\n  from = network_rule.a\n}\n",
        "Invalid moved block": rule("a") + moved("network_rule.a", "compute_pool.a"),
        "Invalid address": rule("a") + 'moved {\n  from = "network_rule.a"\n  to = network_rule.b\n}\n',
        "Missing required argument": rule("a") + "moved {\n  from = network_rule.a\n}\n",
    }
    for summary, body in cases.items():
        try:
            _, diags = _plan(tmp_path, body)
            errors = [d.summary for d in diags.errors()]
        except DiagnosticsError as exc:
            errors = [d.summary for d in exc.diagnostics]
        assert summary in errors, (summary, errors)


def test_a_saved_plan_keeps_its_moves(tmp_path: Path) -> None:
    _apply(tmp_path, rule("old"))
    plan, _ = _plan(tmp_path, rule("new", "old") + moved("network_rule.old", "network_rule.new"))
    again = Plan.from_file_json(plan.to_file_json())
    assert again.moves == [["network_rule.old", "network_rule.new"]] and again.has_changes
