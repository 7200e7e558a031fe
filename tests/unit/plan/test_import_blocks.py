"""import blocks: the plan adopts an existing object (read through its provider) and shows what
the configuration would change on it; apply records it; an id the provider cannot find is an
error naming the block; a target already in state is left alone."""

from __future__ import annotations

import json
from pathlib import Path

from mlrt_iac.apply.engine import ApplyOptions, apply_plan
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import DiagnosticsError
from mlrt_iac.plan.json_view import plan_json
from mlrt_iac.plan.model import Plan
from mlrt_iac.plan.planner import PlanOptions, make_plan
from mlrt_iac.plan.project import open_project
from mlrt_iac.state import discover_backends, read_or_new

HEAD = 'mlrt {\n  default_provider = "test"\n}\n'


def rule(hosts: str = '"a.example.com:443"') -> str:
    return f'network_rule "r" {{\n  mode = "EGRESS"\n  type = "HOST_PORT"\n  value_list = [{hosts}]\n}}\n'


IMPORT = 'variable "rid" {\n  default = "existing"\n}\nimport {\n  to = network_rule.r\n  id = var.rid\n}\n'


def _existing(root: Path, attrs: dict[str, object]) -> None:
    """An object made outside mlrt, where the test provider keeps its objects."""
    path = root / ".mlrt" / "test-objects" / "network_rule" / "existing.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"id": "existing", "attributes": attrs}))


def _plan(root: Path, body: str, *vars_: str) -> tuple[Plan, Diagnostics]:
    (root / "main.hcl").write_text(HEAD + body)
    backend = discover_backends()["local"](root, {})
    return make_plan(open_project(root, list(vars_)), read_or_new(backend), PlanOptions())


def test_an_import_block_adopts_the_object_and_plans_the_difference(tmp_path: Path) -> None:
    _existing(
        tmp_path, {"name": "r", "mode": "EGRESS", "type": "HOST_PORT", "value_list": ["old.example.com:443"]}
    )
    plan, diags = _plan(tmp_path, rule() + IMPORT)
    assert not diags.has_errors, [d.summary for d in diags]
    assert [e["address"] for e in plan.imports] == ["network_rule.r"]
    assert {c.address: c.action for c in plan.actionable()} == {"network_rule.r": "update"}  # not create
    shown = {c["address"]: c for c in plan_json(plan)["resource_changes"]}
    assert shown["network_rule.r"]["change"]["importing"] == {"id": "existing"}
    backend = discover_backends()["local"](tmp_path, {})
    res = apply_plan(open_project(tmp_path, []), plan, backend, read_or_new(backend), ApplyOptions())
    assert not res.errors, res.errors
    state = backend.read()
    assert state.get("network_rule.r").id == "existing"
    assert state.get("network_rule.r").attributes["value_list"] == ["a.example.com:443"]
    again, _ = _plan(tmp_path, rule() + IMPORT)
    assert again.imports == [] and not again.has_changes  # already in state: the block does nothing


def test_an_unknown_id_is_an_error_naming_the_block(tmp_path: Path) -> None:
    _, diags = _plan(tmp_path, rule() + IMPORT, "rid=nope")
    errs = diags.errors()
    assert [d.summary for d in errs] == ["Cannot import non-existent remote object"]
    assert "'nope' as network_rule.r" in errs[0].detail and errs[0].range is not None


def test_bad_import_blocks_are_errors(tmp_path: Path) -> None:
    cases = {
        "Configuration for import target does not exist": 'import {\n  to = network_rule.zz\n  id = "x"\n}\n',
        "Missing required argument": "import {\n  to = network_rule.r\n}\n",
        "Invalid import id": "import {\n  to = network_rule.r\n  id = 3\n}\n",
        "Invalid import address": 'import {\n  to = module.m\n  id = "x"\n}\n',
    }
    for i, (summary, body) in enumerate(cases.items()):
        d = tmp_path / str(i)
        d.mkdir()
        try:
            _, diags = _plan(d, rule() + body)
            errors = [x.summary for x in diags.errors()]
        except DiagnosticsError as exc:
            errors = [x.summary for x in exc.diagnostics]
        assert summary in errors, (summary, errors)
