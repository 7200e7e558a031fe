"""Files mlrt writes for the user: plan files private, bad paths reported, symlinks not followed
(issue 15, Low items), and a -replace that matches nothing is said aloud."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.security.helpers import run_cli, user_env, write_project

REPO = Path(__file__).resolve().parents[2]

RULE = """
network_rule "r" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org"]
}
"""


def test_plan_out_is_private(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": RULE})
    res = run_cli(project, "plan", "-out", "saved.plan", env=user_env(tmp_path))
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE((project / "saved.plan").stat().st_mode) == 0o600


def test_plan_out_to_a_missing_directory_or_a_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": RULE})
    env = user_env(tmp_path)
    missing = run_cli(project, "plan", "-out", str(tmp_path / "nowhere" / "x.plan"), env=env)
    assert missing.returncode == 1
    assert "Error: Cannot save the plan" in missing.stderr and "does not exist" in missing.stderr
    assert "internal error" not in missing.stderr and "Traceback" not in missing.stderr
    directory = run_cli(project, "plan", "-out", str(tmp_path), env=env)
    assert directory.returncode == 1
    assert "is a directory" in directory.stderr and "internal error" not in directory.stderr


def test_plan_out_replaces_a_planted_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": RULE})
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (project / "saved.plan").symlink_to(victim)
    res = run_cli(project, "plan", "-out", "saved.plan", env=user_env(tmp_path))
    assert res.returncode == 0, res.stderr
    assert victim.read_text() == "keep me"
    assert not (project / "saved.plan").is_symlink()


def test_render_out_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    from tests.k8s.test_examples import render_example  # renders a copy of the example

    out = tmp_path / "out"
    target = [p for p in render_example("gitops", out) if p.name != "kustomization.yaml"][0]
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target.unlink()
    target.symlink_to(victim)
    render_example("gitops", out)
    assert victim.read_text() == "keep me"
    assert not target.is_symlink() and target.read_text().startswith("#")


def test_replace_that_matches_nothing_warns(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": RULE})
    res = run_cli(project, "plan", "-replace", "nope.nope", env=user_env(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "Warning: Unused -replace option" in res.stderr and '"nope.nope"' in res.stderr
    ok = run_cli(project, "plan", "-replace", "network_rule.r", env=user_env(tmp_path))
    assert "Unused -replace option" not in ok.stderr
