"""mlrt console: expressions from standard input evaluated against the configuration and the
state, printed as `terraform console` prints them; an error prints and makes the exit code 1."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mlrt_iac.cli.cmd_console import console_value
from mlrt_iac.cli.main import main
from mlrt_iac.values import UNKNOWN, Sensitive

MAIN = """mlrt {
  default_provider = "test"
}

variable "hosts" {
  default = ["a.example.com:443", "b.example.com:443"]
}

locals {
  first = var.hosts[0]
}

network_rule "r" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = var.hosts
}

external_access_integration "e" {
  allowed_network_rules = [network_rule.r]
}
"""


def _console(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], root: Path, text: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = main(["-chdir", str(root), "console", "-no-color"])
    got = capsys.readouterr()
    return code, got.out, got.err


def test_expressions_see_variables_locals_and_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "main.hcl").write_text(MAIN)
    code, out, err = _console(
        monkeypatch,
        capsys,
        tmp_path,
        "local.first\nupper(var.hosts[1])\n{ a = 1, b = [true, null] }\nnetwork_rule.r.name\n",
    )
    assert code == 0, err
    assert (
        out
        == '"a.example.com:443"\n"B.EXAMPLE.COM:443"\n{\n  "a" = 1\n  "b" = [\n    true,\n    null,\n  ]\n}\n"r"\n'
    )
    # Before apply, a computed attribute is unknown; after, it is what state recorded.
    code, out, _ = _console(monkeypatch, capsys, tmp_path, "external_access_integration.e.effective_egress\n")
    assert out == "(known after apply)\n"
    assert main(["-chdir", str(tmp_path), "apply", "-auto-approve", "-no-color"]) == 0
    capsys.readouterr()
    code, out, _ = _console(monkeypatch, capsys, tmp_path, "network_rule.r.id\n")
    assert (code, out) == (0, '"r"\n')


def test_errors_are_printed_and_the_exit_code_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "main.hcl").write_text(MAIN)
    code, out, err = _console(monkeypatch, capsys, tmp_path, "var.nope\n1 +\nlength(var.hosts)\n")
    assert code == 1
    assert "Reference to undeclared input variable" in err and "var.nope" in err
    assert out == "2\n"  # the good line after the bad ones is still answered


def test_values_print_as_terraform_prints_them() -> None:
    assert console_value(UNKNOWN) == "(known after apply)"
    assert console_value(Sensitive("x")) == "(sensitive value)"
    assert console_value([]) == "[]" and console_value({}) == "{}"
    assert console_value(2.0) == "2" and console_value(0.5) == "0.5"
