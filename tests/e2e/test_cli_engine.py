"""The engine through the real CLI: the commands a user types, on the test provider."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from .helpers import provider_objects, read_state, rules_config, run_mlrt, spawn_mlrt, state_file

OUTPUTS = """
output "first_rule" {
  value = network_rule.r01.name
}

output "secret" {
  value     = "s3cr3t"
  sensitive = true
}
"""


def _project(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "proj"
    p.mkdir(exist_ok=True)
    (p / "main.hcl").write_text(text)
    return p


def test_init_plan_apply_plan_cycle(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(3) + OUTPUTS)
    init = run_mlrt(proj, "init")
    assert init.returncode == 0, init.stderr
    assert "local" in init.stdout and "test" in init.stdout
    plan = run_mlrt(proj, "plan", "-detailed-exitcode")
    assert plan.returncode == 2
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in plan.stdout
    assert '+ resource "network_rule" "r01"' in plan.stdout
    apply = run_mlrt(proj, "apply", "-auto-approve")
    assert apply.returncode == 0, apply.stderr
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in apply.stdout
    again = run_mlrt(proj, "plan", "-detailed-exitcode")
    assert again.returncode == 0, again.stdout
    assert "No changes." in again.stdout
    assert oct(state_file(proj).stat().st_mode & 0o777) == "0o600"


def test_outputs_and_sensitive_redaction(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(1) + OUTPUTS)
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    out = run_mlrt(proj, "output")
    assert 'first_rule = "r01"' in out.stdout
    assert "s3cr3t" not in out.stdout and "(sensitive value)" in out.stdout
    raw = run_mlrt(proj, "output", "-raw", "first_rule")
    assert raw.stdout == "r01"
    as_json = json.loads(run_mlrt(proj, "output", "-json").stdout)
    assert as_json["first_rule"] == {"value": "r01", "sensitive": False}
    shown = json.loads(run_mlrt(proj, "show", "-json").stdout)
    assert shown["values"]["outputs"]["secret"]["value"] == "(sensitive value)"
    missing = run_mlrt(proj, "output", "nope")
    assert missing.returncode == 1 and 'Output "nope" not found' in missing.stderr


def test_plan_json_markdown_and_saved_plan_show(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(2))
    js = json.loads(run_mlrt(proj, "plan", "-json").stdout)
    changes = {rc["address"]: rc for rc in js["resource_changes"]}
    assert changes["network_rule.r01"]["change"]["actions"] == ["create"]
    assert changes["network_rule.r01"]["type"] == "network_rule"
    assert changes["network_rule.r01"]["name"] == "r01"
    assert changes["network_rule.r01"]["change"]["before"] is None
    md = run_mlrt(proj, "plan", "-format", "markdown").stdout
    assert "**Plan:** 2 to add, 0 to change, 0 to destroy." in md
    assert "| ➕ create | `network_rule.r01` |" in md
    assert run_mlrt(proj, "plan", "-out", "p.plan").returncode == 0
    shown = json.loads(run_mlrt(proj, "show", "-json", "p.plan").stdout)
    assert len(shown["resource_changes"]) == 2


def test_state_commands(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(3))
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    listed = run_mlrt(proj, "state", "list").stdout.split()
    assert listed == ["network_rule.r01", "network_rule.r02", "network_rule.r03"]
    show = run_mlrt(proj, "state", "show", "network_rule.r02")
    assert "host2.example.com:443" in show.stdout
    pulled = run_mlrt(proj, "state", "pull").stdout
    (proj / "backup.json").write_text(pulled)
    mv = run_mlrt(proj, "state", "mv", "network_rule.r03", "network_rule.moved")
    assert mv.returncode == 0, mv.stderr
    assert "network_rule.moved" in run_mlrt(proj, "state", "list").stdout
    rm = run_mlrt(proj, "state", "rm", "network_rule.r02")
    assert rm.returncode == 0
    assert "r02" in provider_objects(proj)  # forgotten, not destroyed
    # The pulled copy is older than the current state: refused without -force.
    push = run_mlrt(proj, "state", "push", "backup.json")
    assert push.returncode == 1 and "older" in push.stderr
    forced = run_mlrt(proj, "state", "push", "-force", "backup.json")
    assert forced.returncode == 0, forced.stderr
    assert run_mlrt(proj, "state", "list").stdout.split() == listed


def test_import_adopts_an_existing_object(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(1))
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    assert run_mlrt(proj, "state", "rm", "network_rule.r01").returncode == 0
    assert run_mlrt(proj, "plan", "-detailed-exitcode").returncode == 2
    imp = run_mlrt(proj, "import", "network_rule.r01", "r01")
    assert imp.returncode == 0, imp.stderr
    assert run_mlrt(proj, "plan", "-detailed-exitcode").returncode == 0
    gone = run_mlrt(proj, "import", "network_rule.r01", "nothing-here")
    assert gone.returncode == 1


def test_destroy_empties_state_and_objects(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(4, chain=True))
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    d = run_mlrt(proj, "destroy", "-auto-approve")
    assert d.returncode == 0, d.stderr
    assert "Destroy complete! Resources: 4 destroyed." in d.stdout
    assert read_state(proj)["resources"] == []
    assert provider_objects(proj) == set()


def test_graph_prints_dot(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(3, chain=True))
    dot = run_mlrt(proj, "graph").stdout
    assert dot.startswith("digraph mlrt {")
    assert '"network_rule.r01" -> "network_rule.r02";' in dot
    plan_dot = run_mlrt(proj, "graph", "-type=plan").stdout
    assert '\\n(create)", color = "green"' in plan_dot


def test_retryable_errors_are_retried(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(2))
    env = {"MLRT_TEST_PROVIDER": json.dumps({"retry_create": {"r01": 2}})}
    res = run_mlrt(proj, "apply", "-auto-approve", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("r01 is busy; retrying") == 2
    assert provider_objects(proj) == {"r01", "r02"}


@pytest.mark.parametrize(
    ("sig", "said"), [(signal.SIGINT, "Interrupt received"), (signal.SIGTERM, "Termination signal received")]
)
def test_ctrl_c_or_sigterm_finishes_work_in_flight_and_exits_130(
    tmp_path: Path, sig: signal.Signals, said: str
) -> None:
    """SIGTERM (CI cancellation, `timeout`) stops an apply as gracefully as Ctrl-C does."""
    proj = _project(tmp_path, rules_config(10, chain=True))
    env = {"MLRT_TEST_PROVIDER": json.dumps({"delay": 0.4})}
    proc = spawn_mlrt(proj, "apply", "-auto-approve", env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state_file(proj).exists() and any(r["status"] == "ready" for r in read_state(proj)["resources"]):
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert said in err
    state = read_state(proj)
    done = {r["address"] for r in state["resources"]}
    assert 1 <= len(done) < 10
    assert all(r["status"] == "ready" for r in state["resources"])
    assert provider_objects(proj) == {a.split(".")[1] for a in done}
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    assert len(read_state(proj)["resources"]) == 10


def test_force_unlock_releases_a_stuck_lock(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(1))
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    env = {"MLRT_TEST_PROVIDER": json.dumps({"delay": 30})}
    (proj / "main.hcl").write_text(rules_config(2))
    holder = spawn_mlrt(proj, "apply", "-auto-approve", env=env)
    try:
        info = proj / ".mlrt" / "state" / "mlrt.state.json.lock.info"
        deadline = time.monotonic() + 30
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        lock_id = json.loads(info.read_text())["id"]
        wrong = run_mlrt(proj, "force-unlock", "not-the-id")
        assert wrong.returncode == 1
        ok = run_mlrt(proj, "force-unlock", lock_id)
        assert ok.returncode == 0, ok.stderr
        assert run_mlrt(proj, "plan").returncode == 0
    finally:
        holder.kill()
        holder.wait()
