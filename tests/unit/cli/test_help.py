"""Help a Terraform user can read (issue 14: `plan --help` described none of its flags, and
`mlrt state` alone printed the top-level help)."""

from __future__ import annotations

import argparse

import pytest

from mlrt_iac.cli.main import build_parser, main


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("command", ["plan", "apply", "destroy"])
def test_every_flag_of_plan_apply_destroy_says_what_it_does(command: str) -> None:
    undocumented = [
        a.option_strings[0]
        for a in _subparser(command)._actions
        if a.option_strings and a.dest != "help" and not a.help
    ]
    assert undocumented == []


def test_state_alone_prints_the_state_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["state"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("usage: mlrt state")
    assert all(name in text for name in ("list", "show", "rm", "mv", "pull", "push"))


@pytest.mark.parametrize(
    "argv",
    [["-help"], ["plan", "-help"], ["apply", "-h"], ["state", "list", "-help"], ["validate", "-help"]],
    ids=" ".join,
)
def test_help_as_terraform_spells_it(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 item 5: `-help` / `-h` on every command, as Terraform accepts them."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: mlrt")


def test_version_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mlrt_iac.version import mlrt_version

    assert main(["version", "-json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mlrt_version"] == mlrt_version()
    assert info["platform"] and info["python_version"]
