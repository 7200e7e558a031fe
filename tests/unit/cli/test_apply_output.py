"""Apply's progress lines read like Terraform's (issue 14: `Creation complete after 0s ` ended in
a space, and `[id=...]` vanished because rich took it for markup)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from mlrt_iac.apply.events import ApplyEvent
from mlrt_iac.cli.main import main
from mlrt_iac.cli.progress import ProgressFilter

RULE = """network_rule "r" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org"]
}
"""


def test_done_and_start_lines_carry_the_id_and_no_trailing_space(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "main.hcl").write_text(RULE)
    assert main(["-chdir", str(tmp_path), "apply", "-auto-approve"]) == 0
    created = capsys.readouterr().out.splitlines()
    assert "network_rule.r: Creation complete after 0s [id=r]" in created
    assert main(["-chdir", str(tmp_path), "apply", "-auto-approve", "-replace", "network_rule.r"]) == 0
    replaced = capsys.readouterr().out.splitlines()
    assert "network_rule.r: Replacing... [id=r]" in replaced
    assert all(line == line.rstrip() for line in created + replaced)


def test_a_targeted_plan_warns_that_targeting_is_in_effect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "main.hcl").write_text(RULE)
    assert main(["-chdir", str(tmp_path), "plan", "-target", "network_rule.r"]) == 0
    assert "Warning: Resource targeting is in effect" in capsys.readouterr().err
    assert main(["-chdir", str(tmp_path), "plan"]) == 0
    assert "targeting" not in capsys.readouterr().err


def test_a_changed_map_is_shown_key_by_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: map changes printed on one line; Terraform shows each changed key."""
    monkeypatch.setenv("NO_COLOR", "1")
    pool = 'compute_pool "p" {\n  instance_family = "CPU_X64_XS"\n  labels = { team = "%s", tier = "x", old = "y" }\n}\n'
    (tmp_path / "main.hcl").write_text(pool % "a")
    assert main(["-chdir", str(tmp_path), "apply", "-auto-approve"]) == 0
    capsys.readouterr()
    (tmp_path / "main.hcl").write_text(pool.replace(', old = "y"', ', new = "z"') % "b")
    assert main(["-chdir", str(tmp_path), "plan", "-no-color"]) == 0
    out = capsys.readouterr().out
    expected = [
        "      ~ labels = {",
        '          + "new" = "z"',
        '          - "old" = "y" -> null',
        '          ~ "team" = "a" -> "b"',
        "            # (1 unchanged element hidden)",
        "        }",
    ]
    lines = out.splitlines()
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected


def _shown(events: Sequence[tuple[float, ApplyEvent]]) -> list[tuple[float, str, str]]:
    f = ProgressFilter()
    out: list[tuple[float, str, str]] = []
    for t, e in events:
        got = f.admit(e, t)
        if got is not None:
            out.append((t, got.kind, got.message))
    return out


def test_a_wait_is_one_line_then_terraforms_still_line_every_ten_seconds() -> None:
    """Issue 14: `0/1 nodes, waiting for capacity` was printed every 2 s, 359 times, and
    `waiting for http://.../health` lines interleaved with `Still creating...`."""
    events: list[tuple[float, ApplyEvent]] = []
    for t in range(0, 31):
        events.append((t, ApplyEvent("progress", "svc", "create", message=f"waiting for /health [{t}s]")))
        if t and t % 10 == 0:
            events.append((t, ApplyEvent("still", "svc", "create", elapsed=t)))
    assert _shown(events) == [
        (0, "progress", "waiting for /health [0s]"),
        (10, "still", "waiting for /health"),
        (20, "still", "waiting for /health"),
        (30, "still", "waiting for /health"),
    ]


def test_new_progress_every_two_seconds_and_a_plain_still_line() -> None:
    events = [(t, ApplyEvent("progress", "t", "create", message=f"round {t}/50 rmse=0.3")) for t in range(7)]
    events.append((10, ApplyEvent("still", "t", "create", elapsed=10)))
    assert _shown(events) == [
        (0, "progress", "round 0/50 rmse=0.3"),
        (2, "progress", "round 2/50 rmse=0.3"),
        (4, "progress", "round 4/50 rmse=0.3"),
        (6, "progress", "round 6/50 rmse=0.3"),
        (10, "still", ""),  # news since the last line: Terraform's words alone
    ]


def test_the_still_line_names_the_wait(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlrt_iac.cli.cmd_plan import _print_event
    from mlrt_iac.cli.console import Out

    monkeypatch.setenv("NO_COLOR", "1")
    out = Out(json_mode=False, no_color=True)
    addr = 'module.team["a"].service.api'
    _print_event(out, ApplyEvent("still", addr, "create", elapsed=20.4, message="waiting for /health"))
    line = capsys.readouterr().out.strip()
    assert line == addr + ": Still creating... [20s elapsed] (waiting for /health)"


def test_show_json_nests_module_resources_in_child_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: `show -json` had no child_modules; Terraform's layout nests module instances."""
    import json

    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "modules" / "team").mkdir(parents=True)
    module_rule = RULE.replace("{\n", '{\n  name       = "r-${var.team}"\n', 1)
    (tmp_path / "modules" / "team" / "main.hcl").write_text('variable "team" {}\n' + module_rule)
    calls = 'module "team" {\n  source   = "./modules/team"\n  for_each = toset(["a", "b"])\n  team     = each.key\n}\n'
    (tmp_path / "main.hcl").write_text(RULE.replace('"r"', '"top"') + calls)
    assert main(["-chdir", str(tmp_path), "apply", "-auto-approve"]) == 0
    capsys.readouterr()
    assert main(["-chdir", str(tmp_path), "show", "-json"]) == 0
    root = json.loads(capsys.readouterr().out)["values"]["root_module"]
    assert [r["address"] for r in root["resources"]] == ["network_rule.top"]
    children = {c["address"]: [r["address"] for r in c["resources"]] for c in root["child_modules"]}
    assert children == {
        'module.team["a"]': ['module.team["a"].network_rule.r'],
        'module.team["b"]': ['module.team["b"].network_rule.r'],
    }
    assert main(["-chdir", str(tmp_path), "state", "show", "-json", 'module.team["b"].network_rule.r']) == 0
    assert json.loads(capsys.readouterr().out)["address"] == 'module.team["b"].network_rule.r'


def test_ray_core_log_lines_stay_out_of_apply_output() -> None:
    """Issue 14: Ray's internal `core_worker.cc` errors reached apply output."""
    core = (
        "(TrainController pid=10623) [2026-11-29 11:54:19,579 E 10623 10731] core_worker.cc:2465: "
        "Actor with class name: 'TrainController' ... the actor restart will fail."
    )
    user = "(RayTrainWorker pid=77) loaded 2000 rows from data/train.parquet (core_worker.cc is fine here)"
    events = [(0.0, ApplyEvent("log", "training.churn", "create", message=m)) for m in (core, user)]
    assert _shown(events) == [(0.0, "log", user)]
