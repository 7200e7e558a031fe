"""Data-driven plan cases: one folder per case, one generated test per folder.

A case folder holds:
  prior/*.hcl     (optional) a configuration applied first, for real, to build the prior state
  mutate.json     (optional) what happens between that apply and the plan:
                    {"delete_objects": ["network_rule/a"], "edit_objects": {"network_rule/a": {...}},
                     "taint": ["network_rule.a"]}
  *.hcl, modules/ the configuration to plan
  args.json       (optional) plan options: targets, replace, destroy, refresh_only, refresh, vars
  expected.json   what the plan must say:
                    actions        {address: action} — exactly the changes that are not no-op
                    noop           [address] that must be planned as no-op
                    replace_paths  {address: [attr]}
                    unknown        {address: [attr]} attributes (known after apply)
                    drift          {address: "deleted" | "changed"}
                    outputs        {name: action}
                    summary        {"add": n, "change": n, "destroy": n}
                    error          a substring of an error summary (the plan must fail)
                    json           {address: {"actions": [...]}} checks on the `show -json` shape
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.apply.engine import ApplyOptions, apply_plan
from mlrt_iac.plan.json_view import plan_json
from mlrt_iac.plan.planner import PlanOptions, make_plan
from mlrt_iac.plan.project import open_project
from mlrt_iac.state import discover_backends, read_or_new
from mlrt_iac.values import UNKNOWN

HERE = Path(__file__).parent
CASES = sorted(p for p in HERE.iterdir() if p.is_dir() and (p / "expected.json").exists())


def _copy_config(src: Path, dst: Path) -> None:
    for f in dst.glob("*.hcl"):
        f.unlink()
    if (dst / "modules").exists():
        shutil.rmtree(dst / "modules")
    for f in src.glob("*.hcl"):
        shutil.copy(f, dst / f.name)
    if (src / "modules").is_dir():
        shutil.copytree(src / "modules", dst / "modules")


def _vars(args: dict[str, Any]) -> list[str]:
    return [f"{k}={v}" for k, v in (args.get("vars") or {}).items()]


def _apply_prior(work: Path, args: dict[str, Any]) -> None:
    project = open_project(work, _vars(args))
    backend = discover_backends()["local"](work, {})
    doc = read_or_new(backend)
    plan, diags = make_plan(project, doc, PlanOptions())
    assert not diags.has_errors, [d.summary for d in diags]
    res = apply_plan(project, plan, backend, doc, ApplyOptions())
    assert not res.errors, res.errors


def _mutate(work: Path, mutate: dict[str, Any]) -> None:
    objects = work / ".mlrt" / "test-objects"
    for ref in mutate.get("delete_objects", []):
        (objects / f"{ref}.json").unlink()
    for ref, changes in mutate.get("edit_objects", {}).items():
        path = objects / f"{ref}.json"
        data = json.loads(path.read_text())
        data["attributes"].update(changes)
        path.write_text(json.dumps(data))
    if mutate.get("taint"):
        backend = discover_backends()["local"](work, {})
        doc = backend.read()
        for addr in mutate["taint"]:
            doc.get(addr).status = "tainted"
        backend.write(doc)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_case(case: Path, tmp_path: Path) -> None:
    work = tmp_path / "proj"
    work.mkdir()
    args = json.loads((case / "args.json").read_text()) if (case / "args.json").exists() else {}
    expected = json.loads((case / "expected.json").read_text())
    if (case / "prior").is_dir():
        _copy_config(case / "prior", work)
        _apply_prior(
            work,
            json.loads((case / "prior" / "args.json").read_text())
            if (case / "prior" / "args.json").exists()
            else {},
        )
    if (case / "mutate.json").exists():
        _mutate(work, json.loads((case / "mutate.json").read_text()))
    _copy_config(case, work)

    backend = discover_backends()["local"](work, {})
    doc = read_or_new(backend)
    opts = PlanOptions(
        targets=args.get("targets", []),
        replace=args.get("replace", []),
        destroy=args.get("destroy", False),
        refresh_only=args.get("refresh_only", False),
        refresh=args.get("refresh", True),
    )
    try:
        project = open_project(work, _vars(args))
        plan, diags = make_plan(project, doc, opts)
        errors = [d.summary for d in diags.errors()]
    except Exception as exc:  # DiagnosticsError from loading
        errors = [getattr(exc, "summary", str(exc))] + [d.summary for d in getattr(exc, "diagnostics", [])]
        plan = None
    if "error" in expected:
        assert any(expected["error"] in e for e in errors), errors
        return
    assert not errors, errors
    assert plan is not None
    got = {c.address: c.action for c in plan.changes if c.action != "no-op"}
    assert got == expected.get("actions", {}), got
    by_addr = {c.address: c for c in plan.changes}
    for addr in expected.get("noop", []):
        assert by_addr[addr].action == "no-op", (addr, by_addr[addr].action)
    for addr, paths in expected.get("replace_paths", {}).items():
        assert sorted(by_addr[addr].replace_paths) == sorted(paths)
    for addr, attrs in expected.get("unknown", {}).items():
        after = by_addr[addr].after or {}
        for a in attrs:
            assert after.get(a) is UNKNOWN or UNKNOWN in (after.get(a) or []), (addr, a, after.get(a))
    if "drift" in expected:
        got_drift = {d.address: ("deleted" if d.after is None else "changed") for d in plan.drift}
        assert got_drift == expected["drift"]
    if "outputs" in expected:
        got_out = {o.name: o.action for o in plan.outputs if o.action != "no-op"}
        assert got_out == expected["outputs"]
    if "summary" in expected:
        assert plan.counts() == expected["summary"]
    if "json" in expected:
        shown = {rc["address"]: rc for rc in plan_json(plan)["resource_changes"]}
        for addr, want in expected["json"].items():
            for key, value in want.items():
                assert shown[addr]["change"][key] == value, (addr, key, shown[addr]["change"][key])
