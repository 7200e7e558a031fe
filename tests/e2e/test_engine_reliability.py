"""Reliability of plan/apply with real processes, a real state file and real locks."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .helpers import provider_objects, read_state, rules_config, run_mlrt, spawn_mlrt, state_file


def _project(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "proj"
    p.mkdir(exist_ok=True)
    (p / "main.hcl").write_text(text)
    return p


def test_failure_on_7th_of_20_keeps_the_6_done_then_converges(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(20, chain=True))
    fail = {"MLRT_TEST_PROVIDER": json.dumps({"fail_create": ["r07"]})}
    first = run_mlrt(proj, "apply", "-auto-approve", env=fail)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "injected failure creating r07" in first.stderr
    state = read_state(proj)
    done = sorted(r["address"] for r in state["resources"])
    assert done == [f"network_rule.r{i:02d}" for i in range(1, 7)]
    assert provider_objects(proj) == {f"r{i:02d}" for i in range(1, 7)}
    second = run_mlrt(proj, "apply", "-auto-approve")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "14 added, 0 changed, 0 destroyed" in second.stdout
    plan = run_mlrt(proj, "plan", "-detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_independent_resources_finish_when_one_fails(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(20))
    fail = {"MLRT_TEST_PROVIDER": json.dumps({"fail_create": ["r07"]})}
    first = run_mlrt(proj, "apply", "-auto-approve", env=fail)
    assert first.returncode == 1
    assert len(read_state(proj)["resources"]) == 19
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    assert len(read_state(proj)["resources"]) == 20


def test_kill_9_at_random_moments_never_loses_an_object(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(20, chain=False))
    slow = {"MLRT_TEST_PROVIDER": json.dumps({"delay": 0.15})}
    rng = random.Random(1234)
    for round_ in range(20):
        # Alternate between creating everything and destroying everything, so kills land in both.
        args = (
            ("apply", "-auto-approve", "-parallelism", "3")
            if round_ % 3 != 2
            else ("destroy", "-auto-approve")
        )
        proc = spawn_mlrt(proj, *args, env=slow)
        time.sleep(rng.uniform(0.6, 2.0))
        proc.kill()
        proc.wait()
        if state_file(proj).exists():
            state = read_state(proj)  # always parses
            known = {r["id"] for r in state["resources"] if r["id"]}
            on_disk = provider_objects(proj)
            assert on_disk <= known, f"round {round_}: objects unknown to the state: {on_disk - known}"
        # A killed holder leaves no lock behind that blocks the next run for long.
    final = run_mlrt(proj, "apply", "-auto-approve", "-lock-timeout", "10s")
    assert final.returncode == 0, final.stdout + final.stderr
    assert provider_objects(proj) == {f"r{i:02d}" for i in range(1, 21)}
    plan = run_mlrt(proj, "plan", "-detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_second_apply_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(10))
    slow = {"MLRT_TEST_PROVIDER": json.dumps({"delay": 0.5})}
    holder = spawn_mlrt(proj, "apply", "-auto-approve", "-parallelism", "1", env=slow)
    try:
        lock_info = proj / ".mlrt" / "state" / "mlrt.state.json.lock.info"
        deadline = time.monotonic() + 30
        while not lock_info.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_info.exists()
        started = time.monotonic()
        second = run_mlrt(proj, "apply", "-auto-approve")
        elapsed = time.monotonic() - started
        assert second.returncode == 1
        assert "lock" in second.stderr.lower()
        assert str(holder.pid) in second.stderr
        assert "apply" in second.stderr
        # Process start-up is most of this; the lock itself is refused at once.
        assert elapsed < 10
    finally:
        holder.kill()
        holder.wait()


def test_fifty_concurrent_plan_apply_pairs_never_corrupt_the_state(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(3))
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0

    def pair(i: int) -> tuple[int, int]:
        a = run_mlrt(proj, "plan", "-lock-timeout", "120s")
        b = run_mlrt(proj, "apply", "-auto-approve", "-lock-timeout", "120s")
        return a.returncode, b.returncode

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(pair, range(50)))
    assert all(c == (0, 0) for c in codes), codes
    state = read_state(proj)
    assert sorted(r["address"] for r in state["resources"]) == [f"network_rule.r{i:02d}" for i in range(1, 4)]


def test_saved_plan_is_refused_after_the_state_changed(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(2))
    assert run_mlrt(proj, "plan", "-out", "p.plan").returncode == 0
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    stale = run_mlrt(proj, "apply", "p.plan")
    assert stale.returncode == 1
    assert "Saved plan is stale" in stale.stderr


def test_saved_plan_applies_exactly(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(3))
    assert run_mlrt(proj, "plan", "-out", "p.plan").returncode == 0
    applied = run_mlrt(proj, "apply", "p.plan")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "3 added" in applied.stdout
    (proj / "main.hcl").write_text(rules_config(4))
    assert run_mlrt(proj, "plan", "-out", "q.plan").returncode == 0
    (proj / "main.hcl").write_text(rules_config(5))
    changed = run_mlrt(proj, "apply", "q.plan")
    assert changed.returncode == 1
    assert "does not match the configuration" in changed.stderr


def test_broken_state_file_is_an_error_naming_the_backup(tmp_path: Path) -> None:
    proj = _project(tmp_path, rules_config(2))
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0
    (proj / "main.hcl").write_text(rules_config(3))
    assert run_mlrt(proj, "apply", "-auto-approve").returncode == 0  # makes a backup
    path = state_file(proj)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    res = run_mlrt(proj, "plan")
    assert res.returncode == 1
    assert "backup" in res.stderr.lower()
    assert path.read_text() == text[: len(text) // 2]  # never overwritten
