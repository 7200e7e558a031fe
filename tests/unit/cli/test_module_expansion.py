"""A child module's locals and resources are evaluated after its call is expanded (issue 14's
multi-team example: with a module argument reading a root local, `local.params[var.framework]`
inside the module planned as `(known after apply)` and the apply failed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.cli.main import main

CHILD = """variable "k" {
  type = string
}

locals {
  hosts = { a = ["a.example.com:443"], b = ["b.example.com:443"] }
}

network_rule "r" {
  name       = "r-${var.k}"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = local.hosts[var.k]
}

network_rule "fixed" {
  name       = "fixed-${var.k}"
  mode       = "EGRESS"
  type       = "IPV4"
  value_list = ["10.0.0.0/8"]
}
"""

ROOT = """locals {
  keys = { a = "a", b = "b" }
}

module "t" {
  source   = "./m"
  for_each = local.keys
  k        = local.keys[each.key]
}
"""


def test_child_locals_are_known_when_the_call_reads_a_root_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.hcl").write_text(CHILD)
    (tmp_path / "main.hcl").write_text(ROOT)
    assert main(["-chdir", str(tmp_path), "plan", "-no-color"]) == 0
    out = capsys.readouterr().out
    assert '+ value_list = ["a.example.com:443"]' in out
    assert '+ value_list = ["b.example.com:443"]' in out
    assert "known after apply" not in out
    assert "Plan: 4 to add, 0 to change, 0 to destroy." in out
