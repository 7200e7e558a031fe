"""Session-wide test support: registers the test provider through a real entry point, and puts
the end-to-end tests in the slow lane.

Lanes: `pytest` runs every test not marked `slow` (pyproject.toml's addopts has
`-m 'not slow'`); `pytest -m slow` runs the others; `.ci/run` runs both. Every test under
tests/e2e/ (real CLI processes, trainings, the Ray cluster) and every test marked `ray` is
marked `slow` here; other tests over ~5 s carry `@pytest.mark.slow` themselves."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
E2E = REPO / "tests" / "e2e"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(E2E) or item.get_closest_marker("ray") is not None:
            item.add_marker(pytest.mark.slow)


def _register_test_provider(site: Path) -> None:
    dist = site / "mlrt_testprovider-0.0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlrt-testprovider\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text(
        "[mlrt.providers]\ntest = tests.support.testprovider:TestProvider\n"
    )


@pytest.fixture(scope="session", autouse=True)
def test_provider_entry_point(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    _register_test_provider(site)
    for p in (str(site), str(REPO)):
        if p not in sys.path:
            sys.path.insert(0, p)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])
    importlib.invalidate_caches()
    return site


@pytest.fixture(scope="session", autouse=True)
def private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parse cache's per-machine key lives in $XDG_CACHE_HOME/mlrt/: tests (and the CLI
    processes they start, which inherit the environment) use a folder of their own, never the
    home of whoever runs them."""
    home = tmp_path_factory.mktemp("xdg-cache")
    os.environ["XDG_CACHE_HOME"] = str(home)
    return home
