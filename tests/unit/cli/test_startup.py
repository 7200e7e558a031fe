"""`mlrt --help` and `mlrt version` import no command module and none of the heavy libraries.

The parser is built from names; a command's module (rich, pydantic, the engine, providers)
loads only when that command runs. Each case runs in a fresh interpreter and reads its
sys.modules afterwards; how fast that is gets measured in bench/cli_start.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlrt_iac.cli.main import Command, build_parser

REPO = Path(__file__).resolve().parents[3]

# Top-level packages and engine modules that only a running command may import.
HEAVY = (
    "rich",
    "pydantic",
    "pydantic_core",
    "hcl2",
    "lark",
    "yaml",
    "httpx",
    "pyarrow",
    "pandas",
    "numpy",
    "providers",
    "state",
    "clients",
    "mlrt_iac.config",
    "mlrt_iac.model",
    "mlrt_iac.graph",
    "mlrt_iac.plan",
    "mlrt_iac.apply",
    "mlrt_iac.state",
    "mlrt_iac.provider",
    "mlrt_iac.runtime",
    "mlrt_iac.errors",
    "mlrt_iac.diagnostics",
    "mlrt_iac.cli.console",
    "mlrt_iac.cli.session",
)

# Calls main() like the `mlrt` console script does, then prints sys.modules as the last line.
PROBE = """
import json, sys
from mlrt_iac.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print()
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["NO_COLOR"] = "1"
    return env


def _probe(*argv: str) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=120,
    )
    *text, last = proc.stdout.rstrip("\n").split("\n")
    report = json.loads(last)
    return int(report["code"]), list(report["modules"]), "\n".join(text)


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)] + [
        m for m in modules if m.startswith("mlrt_iac.cli.cmd_")
    ]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--help"], 0),
        ([], 1),
        (["-version"], 0),
        (["version"], 0),
        (["version", "-json"], 0),
        (["plan", "-help"], 0),
        (["validate", "--help"], 0),
        (["plan", "--help"], 0),
        (["state", "list", "--help"], 0),
        (["bogus"], 2),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_help_and_version_import_nothing_heavy(argv: list[str], code: int) -> None:
    got, modules, text = _probe(*argv)
    assert got == code, text
    assert _heavy(modules) == []


def test_version_prints_the_version() -> None:
    from mlrt_iac.version import mlrt_version

    for argv in (["version"], ["-version"], ["--version"]):
        code, _, text = _probe(*argv)
        assert (code, text.strip()) == (0, f"mlrt v{mlrt_version()}")


def test_a_command_imports_its_module_only_when_it_runs(tmp_path: Path) -> None:
    # The probe can tell: validate loads its own module and the engine, and still not the
    # planner's or apply's.
    (tmp_path / "main.hcl").write_text('compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n}\n')
    code, modules, text = _probe("-chdir", str(tmp_path), "validate", "-no-color")
    assert code == 0, text
    assert "Success!" in text
    assert {"mlrt_iac.cli.cmd_validate", "mlrt_iac.plan.project", "rich.console"} <= set(modules)
    assert not {"mlrt_iac.cli.cmd_plan", "mlrt_iac.apply.engine", "mlrt_iac.cli.cmd_state"} & set(modules)


def test_a_warm_validate_loads_no_parser_and_no_provider_code(tmp_path: Path) -> None:
    """The second validate reads the parse cache: hcl2 and lark are never imported, and
    providers are only listed (entry points), not imported, since validate needs only names."""
    (tmp_path / "main.hcl").write_text('compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n}\n')
    code, modules, text = _probe("-chdir", str(tmp_path), "validate", "-no-color")
    assert code == 0 and "hcl2" in modules, text  # the cold run parsed
    code, modules, text = _probe("-chdir", str(tmp_path), "validate", "-no-color")
    assert code == 0, text
    assert not [m for m in modules if m.split(".")[0] in ("hcl2", "lark", "providers")]


def test_python_m_help_imports_nothing_heavy() -> None:
    # `python -m mlrt_iac.cli.main` (how tests and benches run mlrt) goes through runpy, which
    # imports the package first: -X importtime lists every module that path imports.
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlrt_iac.cli.main", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: mlrt" in proc.stdout
    imported = [
        line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
    ]
    assert "argparse" in imported
    assert _heavy(imported) == []


def _commands(parser: object) -> list[tuple[str, Command]]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    found: list[tuple[str, Command]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                fn = sub.get_default("func")
                if isinstance(fn, Command):
                    found.append((name, fn))
                found += [(f"{name} {n}", c) for n, c in _commands(sub)]
    return found


def test_every_command_names_a_function_that_exists() -> None:
    # The names are strings until a command runs: a typo would only show then.
    commands = _commands(build_parser())
    assert len(commands) == 25
    for name, command in commands:
        assert callable(command.load()), name
