"""`state mv` of a module instance, `state show` and `import` through the CLI (issue 14 items 7
and 8), in-process on the local provider's network rules (no processes, well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.cli.main import main
from mlrt_iac.state import ResourceState, StateDocument
from state.local_backend import LocalBackend

RULE = """network_rule "%s" {
  name       = "%s"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org:443"]
}
"""
CALL = """module "team" {
  source   = "./team"
  for_each = { %s = "fraud" }
  team     = each.value
}
"""


def _run(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str, str]:
    code = main(["-chdir", str(project), *args])
    got = capsys.readouterr()
    return code, got.out, got.err


@pytest.fixture(autouse=True)
def _no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")


def test_state_mv_moves_every_resource_of_a_module_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Terraform's `state mv 'module.team["a"]' 'module.team["b"]'`: all of it moves, and a
    configuration renamed the same way then plans no change."""
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "main.hcl").write_text(
        'variable "team" {}\n' + RULE % ("r", "${var.team}-r") + RULE % ("s", "${var.team}-s")
    )
    (tmp_path / "main.hcl").write_text(CALL % "a")
    assert _run(capsys, tmp_path, "apply", "-auto-approve")[0] == 0
    code, out, err = _run(capsys, tmp_path, "state", "mv", 'module.team["a"]', 'module.team["b"]')
    assert code == 0, err
    assert out.splitlines() == [
        'Move "module.team["a"]" to "module.team["b"]"',
        "Successfully moved 2 object(s).",
    ]
    moved = LocalBackend(tmp_path, {}).read()
    assert moved is not None
    assert moved.addresses() == ['module.team["b"].network_rule.r', 'module.team["b"].network_rule.s']
    (tmp_path / "main.hcl").write_text(CALL % "b")
    code, out, err = _run(capsys, tmp_path, "plan", "-detailed-exitcode", "-no-color")
    assert code == 0, out + err
    assert "No changes." in out


def test_state_show_prints_no_provider_private_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`state show training.x` printed the provider's `_fingerprint_parts`: private data is the
    provider's bookkeeping, kept in the state file but never shown."""
    (tmp_path / "main.hcl").write_text(RULE % ("r", "r"))
    doc = StateDocument.new()
    rs = ResourceState.new("network_rule.r", "local", "r", {"name": "r", "mode": "EGRESS"})
    rs.private = {"fingerprint_parts": {"data/train.parquet": "ab12"}, "ray_address": "http://x"}
    doc.set(rs)
    LocalBackend(tmp_path, {}).write(doc)
    code, out, err = _run(capsys, tmp_path, "state", "show", "network_rule.r")
    assert code == 0, err
    assert 'mode = "EGRESS"' in " ".join(out.split())
    assert "fingerprint" not in out and "ray_address" not in out and "ab12" not in out
    code, out, _ = _run(capsys, tmp_path, "state", "show", "-json", "network_rule.r")
    assert code == 0 and "fingerprint" not in out and "ab12" not in out


def test_import_says_import_successful(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`Import prepared!` never became `Import successful!` (Terraform's words)."""
    (tmp_path / "main.hcl").write_text(RULE % ("r", "r"))
    assert _run(capsys, tmp_path, "apply", "-auto-approve")[0] == 0
    assert _run(capsys, tmp_path, "state", "rm", "network_rule.r")[0] == 0
    code, out, err = _run(capsys, tmp_path, "import", "network_rule.r", "r")
    assert code == 0, err
    assert out.startswith("network_rule.r: Import successful! Imported id r.\n")
    assert _run(capsys, tmp_path, "plan", "-detailed-exitcode")[0] == 0
