"""lifecycle preconditions and postconditions: a false one stops the plan on its line (it was
silently ignored before), one unknown at plan is checked at apply, and a postcondition that fails
at apply fails that change (its dependents are not applied; the object stays in state)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.apply.engine import ApplyOptions, apply_plan
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import DiagnosticsError
from mlrt_iac.plan.planner import PlanOptions, make_plan
from mlrt_iac.plan.project import open_project
from mlrt_iac.state import discover_backends, read_or_new

HEAD = 'mlrt {\n  default_provider = "test"\n}\n\n'


def _rule(name: str, lifecycle: str = "", extra: str = "") -> str:
    return f"""
network_rule "{name}" {{
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["{name}.example.com:443"]
  {extra}
  lifecycle {{
{lifecycle}
  }}
}}
"""


def _plan(tmp_path: Path, hcl: str) -> tuple[object, Diagnostics, object, object]:
    (tmp_path / "main.hcl").write_text(HEAD + hcl)
    project = open_project(tmp_path, [])
    backend = discover_backends()["local"](tmp_path, {})
    doc = read_or_new(backend)
    plan, diags = make_plan(project, doc, PlanOptions())
    return plan, diags, project, backend


def _errors(diags: Diagnostics) -> list[str]:
    return [d.summary for d in diags.errors()]


def test_a_false_precondition_is_a_plan_error_on_its_line_with_its_message(tmp_path: Path) -> None:
    cond = '    precondition {\n      condition     = 1 > 2\n      error_message = "One is not more than two."\n    }'
    _, diags, _, _ = _plan(tmp_path, _rule("a", cond))
    errs = diags.errors()
    assert [d.summary for d in errs] == ["Resource precondition failed"]
    assert "One is not more than two." in errs[0].detail and "network_rule.a" in errs[0].detail
    assert errs[0].range is not None and errs[0].range.start.line == 13


def test_a_true_precondition_plans_normally(tmp_path: Path) -> None:
    cond = '    precondition {\n      condition     = 2 > 1\n      error_message = "never"\n    }'
    plan, diags, _, _ = _plan(tmp_path, _rule("a", cond))
    assert not diags.has_errors, _errors(diags)
    assert [c.action for c in plan.changes] == ["create"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (
            '    precondition {\n      condition     = "yes"\n      error_message = "m"\n    }',
            "Invalid condition result",
        ),
        ("    precondition {\n      condition     = true\n    }", "Missing required argument"),
        (
            '    postcondition {\n      condition     = true\n      error_message = "m"\n      when = 1\n    }',
            "Unsupported argument",
        ),
        ("    check {\n      condition     = true\n    }", "Unsupported block type"),
    ],
)
def test_malformed_conditions_are_errors(tmp_path: Path, body: str, summary: str) -> None:
    try:
        _, diags, _, _ = _plan(tmp_path, _rule("a", body))
        errors = _errors(diags)
    except DiagnosticsError as exc:
        errors = [d.summary for d in exc.diagnostics]
    assert summary in errors, errors


def test_self_outside_a_postcondition_is_an_error(tmp_path: Path) -> None:
    try:
        _, diags, _, _ = _plan(tmp_path, _rule("a", extra="comment = self.mode"))
        errors = _errors(diags)
    except DiagnosticsError as exc:
        errors = [d.summary for d in exc.diagnostics]
    assert 'Invalid "self" reference' in errors, errors


def test_a_postcondition_unknown_at_plan_fails_the_change_at_apply(tmp_path: Path) -> None:
    # timestamp() is known only at apply: the plan cannot decide, apply must.
    post = (
        "    postcondition {\n"
        '      condition     = timestamp() == "2000-01-01T00:00:00Z"\n'
        '      error_message = "${self.name} was made at ${timestamp()}."\n'
        "    }"
    )
    hcl = _rule("a", post) + _rule("b", extra="comment = network_rule.a.name")
    plan, diags, project, backend = _plan(tmp_path, hcl)
    assert not diags.has_errors, _errors(diags)
    doc = read_or_new(backend)  # type: ignore[arg-type]
    res = apply_plan(project, plan, backend, doc, ApplyOptions())  # type: ignore[arg-type]
    summaries = [(a, e.summary) for a, e in res.errors]
    assert summaries == [("network_rule.a", "Resource postcondition failed")], summaries
    assert "a was made at " in (res.errors[0][1].detail or "")
    state = backend.read()  # type: ignore[attr-defined]
    # The object exists and stays tracked; what depends on it was not applied.
    assert state.get("network_rule.a") is not None
    assert state.get("network_rule.b") is None
    assert (tmp_path / ".mlrt" / "test-objects" / "network_rule" / "a.json").exists()
    assert not (tmp_path / ".mlrt" / "test-objects" / "network_rule" / "b.json").exists()


def test_a_precondition_unknown_at_plan_is_checked_before_the_change(tmp_path: Path) -> None:
    pre = (
        "    precondition {\n"
        '      condition     = timestamp() == "2000-01-01T00:00:00Z"\n'
        '      error_message = "Too late."\n'
        "    }"
    )
    plan, diags, project, backend = _plan(tmp_path, _rule("a", pre))
    assert not diags.has_errors, _errors(diags)
    doc = read_or_new(backend)  # type: ignore[arg-type]
    res = apply_plan(project, plan, backend, doc, ApplyOptions())  # type: ignore[arg-type]
    assert [(a, e.summary) for a, e in res.errors] == [("network_rule.a", "Resource precondition failed")]
    assert not (tmp_path / ".mlrt" / "test-objects" / "network_rule" / "a.json").exists()
    assert backend.read().get("network_rule.a") is None  # type: ignore[attr-defined]


def test_passing_conditions_apply_and_the_next_plan_is_empty(tmp_path: Path) -> None:
    post = (
        '    postcondition {\n      condition     = self.mode == "EGRESS"\n      error_message = "m"\n    }'
    )
    plan, diags, project, backend = _plan(tmp_path, _rule("a", post))
    assert not diags.has_errors
    res = apply_plan(project, plan, backend, read_or_new(backend), ApplyOptions())  # type: ignore[arg-type]
    assert not res.errors, [e.summary for _, e in res.errors]
    plan2, diags2, _, _ = _plan(tmp_path, _rule("a", post))
    assert not diags2.has_errors
    assert [c.action for c in plan2.changes] == ["no-op"]  # type: ignore[attr-defined]
