"""mlrt workspace new/select/list/show/delete: one state per workspace, Terraform's messages,
`terraform.workspace` / `mlrt.workspace` in expressions, MLRT_WORKSPACE overriding the choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrt_iac.cli.main import main

MAIN = """mlrt {
  default_provider = "test"
}

network_rule "r" {
  name       = "${terraform.workspace}-rule"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["${mlrt.workspace}.example.com:443"]
}

output "ws" {
  value = [terraform.workspace, mlrt.workspace]
}
"""


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLRT_WORKSPACE", raising=False)
    (tmp_path / "main.hcl").write_text(MAIN)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    cmd = argv[0].split()
    rc = main([*cmd, "-chdir", str(root), "-no-color", *argv[1:]])
    got = capsys.readouterr()
    return rc, got.out, " ".join(got.err.split())


def state_addresses(capsys: pytest.CaptureFixture[str], root: Path) -> list[str]:
    rc, out, err = run(capsys, root, "state list")
    assert rc == 0, err
    return out.split()


def test_new_select_list_show(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, root, "workspace show")[1] == "default\n"
    assert run(capsys, root, "workspace list")[1] == "* default\n\n"
    rc, out, _ = run(capsys, root, "workspace new", "a")
    assert rc == 0 and 'Created and switched to workspace "a"!' in out
    assert (root / ".mlrt" / "environment").read_text() == "a\n"
    assert run(capsys, root, "workspace show")[1] == "a\n"
    assert run(capsys, root, "workspace list")[1] == "  default\n* a\n\n"
    rc, out, _ = run(capsys, root, "workspace select", "default")
    assert rc == 0 and 'Switched to workspace "default".' in out
    assert run(capsys, root, "workspace list")[1] == "* default\n  a\n\n"


def test_an_apply_in_one_workspace_is_invisible_in_the_other(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, root, "workspace new", "a")[0] == 0
    assert run(capsys, root, "apply", "-auto-approve")[0] == 0
    assert state_addresses(capsys, root) == ["network_rule.r"]
    attrs = json.loads(run(capsys, root, "state pull")[1])["resources"][0]["attributes"]
    assert attrs["name"] == "a-rule" and attrs["value_list"] == ["a.example.com:443"]
    rc, out, _ = run(capsys, root, "output", "-json")
    assert json.loads(out)["ws"]["value"] == ["a", "a"]
    state_a = root / ".mlrt" / "state" / "workspaces" / "a" / "mlrt.state.json"
    assert state_a.is_file() and not (root / ".mlrt" / "state" / "mlrt.state.json").exists()

    run(capsys, root, "workspace select", "default")
    assert state_addresses(capsys, root) == []  # a's resource is invisible here
    assert run(capsys, root, "apply", "-auto-approve")[0] == 0
    attrs = json.loads(run(capsys, root, "state pull")[1])["resources"][0]["attributes"]
    assert attrs["name"] == "default-rule"
    assert (root / ".mlrt" / "state" / "mlrt.state.json").is_file()  # default's path is unchanged
    assert json.loads(state_a.read_text())["resources"][0]["attributes"]["name"] == "a-rule"


def test_destroy_in_one_workspace_leaves_the_other(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, root, "apply", "-auto-approve")[0] == 0
    assert run(capsys, root, "workspace new", "a")[0] == 0
    rc, out, _ = run(capsys, root, "plan", "-detailed-exitcode")
    assert rc == 2 and "a-rule" in out  # a starts empty: default's resource is not in its state
    assert run(capsys, root, "destroy", "-auto-approve")[0] == 0
    run(capsys, root, "workspace select", "default")
    assert state_addresses(capsys, root) == ["network_rule.r"]
    assert run(capsys, root, "plan", "-detailed-exitcode")[0] == 0  # and default is as it was


def test_mlrt_workspace_overrides_the_selection(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, root, "workspace new", "a")[0] == 0
    monkeypatch.setenv("MLRT_WORKSPACE", "b")
    assert run(capsys, root, "workspace show")[1] == "b\n"
    rc, out, _ = run(capsys, root, "workspace list")
    assert out.startswith("  default\n  a\n* b\n\n") and "MLRT_WORKSPACE" in out
    assert run(capsys, root, "apply", "-auto-approve")[0] == 0
    attrs = json.loads(run(capsys, root, "state pull")[1])["resources"][0]["attributes"]
    assert attrs["name"] == "b-rule"
    rc, _, err = run(capsys, root, "workspace select", "a")
    assert rc == 1 and "overridden using the MLRT_WORKSPACE environment variable" in err
    rc, _, err = run(capsys, root, "workspace new", "c")
    assert rc == 1 and "overridden" in err
    monkeypatch.setenv("MLRT_WORKSPACE", "no/slash")
    rc, _, err = run(capsys, root, "workspace show")
    assert rc == 1 and 'The workspace name "no/slash" is not allowed' in err and "MLRT_WORKSPACE" in err
    monkeypatch.delenv("MLRT_WORKSPACE")
    assert run(capsys, root, "workspace show")[1] == "a\n"
    assert run(capsys, root, "workspace list")[1] == "  default\n* a\n  b\n\n"


def test_errors_and_names(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, root, "workspace select", "nope")
    assert rc == 1 and 'Error: Workspace "nope" doesn\'t exist.' in err and '"new" subcommand' in err
    for bad in ("a/b", "a b", "", "x" * 64, "é", "-x"):
        rc, _, err = (
            run(capsys, root, "workspace new", "--", bad)
            if bad.startswith("-")
            else run(capsys, root, "workspace new", bad)
        )
        assert rc == 1 and "is not allowed" in err and "letters, digits" in err, (bad, err)
    assert not (root / ".mlrt" / "environment").exists()
    assert run(capsys, root, "workspace new", "ok_Name-1")[0] == 0
    rc, _, err = run(capsys, root, "workspace new", "ok_Name-1")
    assert rc == 1 and 'Workspace "ok_Name-1" already exists' in err
    rc, out, _ = run(capsys, root, "workspace select", "-or-create", "fresh")
    assert rc == 0 and 'Created and switched to workspace "fresh"!' in out
    assert run(capsys, root, "workspace show")[1] == "fresh\n"


def test_delete_rules(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, root, "workspace delete", "default")
    assert rc == 1 and "Cannot delete the default workspace" in err
    rc, _, err = run(capsys, root, "workspace delete", "ghost")
    assert rc == 1 and 'Workspace "ghost" doesn\'t exist.' in err
    assert run(capsys, root, "workspace new", "a")[0] == 0
    rc, _, err = run(capsys, root, "workspace delete", "a")
    assert rc == 1 and 'Workspace "a" is your active workspace.' in err
    assert run(capsys, root, "apply", "-auto-approve")[0] == 0
    run(capsys, root, "workspace select", "default")
    rc, _, err = run(capsys, root, "workspace delete", "a")
    assert rc == 1 and "Workspace is not empty" in err and "- network_rule.r" in err and "-force" in err
    assert run(capsys, root, "workspace list")[1] == "* default\n  a\n\n"
    rc, out, err = run(capsys, root, "workspace delete", "-force", "a")
    assert rc == 0 and 'Deleted workspace "a"!' in out and "still tracked 1 resource" in err
    assert run(capsys, root, "workspace list")[1] == "* default\n\n"
    assert not (root / ".mlrt" / "state" / "workspaces" / "a").exists()  # no lock files left
    assert run(capsys, root, "workspace new", "empty")[0] == 0
    run(capsys, root, "workspace select", "default")
    rc, out, _ = run(capsys, root, "workspace delete", "empty")
    assert rc == 0 and 'Deleted workspace "empty"!' in out


def test_a_saved_plan_applies_only_in_its_workspace(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, root, "workspace new", "a")[0] == 0
    plan = root / "a.plan"
    assert run(capsys, root, "plan", "-out", str(plan))[0] == 0
    run(capsys, root, "workspace select", "default")
    rc, _, err = run(capsys, root, "apply", str(plan))
    assert rc == 1 and 'Saved plan is for workspace "a"' in err
    assert state_addresses(capsys, root) == []


def test_other_attributes_of_terraform_and_mlrt_are_errors(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / "main.hcl").write_text(
        'mlrt {\n  default_provider = "test"\n}\n\noutput "a" {\n  value = terraform.env\n}\n\n'
        'output "b" {\n  value = mlrt\n}\n'
    )
    rc, _, err = run(capsys, root, "validate")
    assert rc == 1
    assert 'Invalid "terraform" attribute' in err and 'does not have an attribute named "env"' in err
    assert 'Invalid "mlrt" attribute' in err and "mlrt.workspace" in err
