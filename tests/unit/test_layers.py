"""The import-linter guard-rail can fail: a layer broken on purpose is reported as broken.

`.ci/run` runs `lint-imports` over the real tree as its own step; this test proves that the
checker it relies on really catches a wrong import (it once fell back to a module that did
nothing and exited 0). For each contract below it copies the packages to a temp dir, checks
that contract alone (as written in pyproject.toml) on the unchanged copy (kept), then adds one
module that breaks it and checks again: lint-imports must exit non-zero and name the contract.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("mlrt_iac", "providers", "state", "clients")

# contract name (as in pyproject.toml) -> (module added to the copy, its source)
BREAKS = {
    "Engine layers: cli -> apply -> plan -> graph -> model -> config": (
        "mlrt_iac/model/_layer_probe.py",
        "import mlrt_iac.plan\n",
    ),
    "The engine never imports providers or state backends (entry points find them)": (
        "mlrt_iac/graph/_layer_probe.py",
        "import state.local_backend\n",
    ),
}


def lint_imports() -> str:
    """The lint-imports of this interpreter's environment, else the one on PATH; never absent."""
    here = Path(sys.executable).parent / "lint-imports"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("lint-imports")
    if found is None:
        pytest.fail(
            f"lint-imports is not installed (not next to {sys.executable}, not on PATH): "
            "pip install -e '.[dev]'"
        )
    return found


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for these plain names
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def _config(contract_name: str) -> str:
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in settings["contracts"] if c["name"] == contract_name]
    lines = ["[tool.importlinter]", f"root_packages = {_toml(settings['root_packages'])}", ""]
    lines.append("[[tool.importlinter.contracts]]")
    lines += [f"{key} = {_toml(value)}" for key, value in contract.items()]
    return "\n".join(lines) + "\n"


def _run(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy, not the installed packages
    return subprocess.run(
        [lint_imports(), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=600
    )


def test_lint_imports_is_installed_where_pytest_runs() -> None:
    assert Path(lint_imports()).is_file()


@pytest.mark.parametrize("contract_name", sorted(BREAKS))
def test_a_broken_contract_fails_lint_imports(contract_name: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (tree / "pyproject.toml").write_text(_config(contract_name))

    kept = _run(tree)
    assert kept.returncode == 0, (
        f"the contract does not hold on the unchanged tree:\n{kept.stdout}{kept.stderr}"
    )
    assert f"{contract_name} KEPT" in kept.stdout, kept.stdout

    path, source = BREAKS[contract_name]
    (tree / path).write_text(source)
    broken = _run(tree)
    out = broken.stdout + broken.stderr
    assert broken.returncode != 0, f"lint-imports passed a broken contract:\n{out}"
    assert f"{contract_name} BROKEN" in out, out
    probe = path.removesuffix(".py").replace("/", ".")
    assert probe in out, f"the report does not name the offending module {probe}:\n{out}"
