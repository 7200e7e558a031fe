"""The runtime layer's third-party packages (pins.RUNTIME_DISTS) cover what mlrt_iac/runtime
imports: an import added to the runtime without its package here would make images that fail
with ModuleNotFoundError inside the workload."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from mlrt_iac.images.files import runtime_files
from mlrt_iac.images.pins import FRAMEWORK_DISTS, RUNTIME_DISTS, runtime_requirements

# Imported by the runtime only where the workload brings them: the framework it trains with
# (FRAMEWORK_DISTS), Ray on Ray clusters, scikit-learn for models that are sklearn pipelines.
OPTIONAL = {"ray", "sklearn", "scikit-learn", *FRAMEWORK_DISTS.values()}


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for _, full in runtime_files():
        if not full.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(Path(full).read_text(), full)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"mlrt_iac", "__future__"}


def test_runtime_imports_are_covered() -> None:
    by_module = metadata.packages_distributions()
    covered = {dist for dist, _ in RUNTIME_DISTS}
    missing = []
    for module in sorted(_imported_top_levels()):
        dists = {d.lower() for d in by_module.get(module, [module])}
        if not dists & (covered | OPTIONAL):
            missing.append(f"{module} ({', '.join(sorted(dists))})")
    assert missing == [], f"add to mlrt_iac/images/pins.py RUNTIME_DISTS: {missing}"


def test_runtime_requirements_are_pinned_to_installed_versions() -> None:
    reqs = runtime_requirements()
    assert f"numpy=={metadata.version('numpy')}" in reqs
    assert any(r.startswith("uvicorn[standard]==") for r in reqs)
    files = [rel for rel, _ in runtime_files()]
    assert "mlrt_iac/__init__.py" in files and "mlrt_iac/runtime/__init__.py" in files
    assert not any("__pycache__" in rel or rel.endswith(".pyc") for rel in files)
