"""Session-wide test support: registers the test provider through a real entry point, and puts
the end-to-end tests in the slow lane.

Lanes: `pytest` runs every test not marked `slow` (pyproject.toml's addopts has
`-m 'not slow'`); `pytest -m slow -n 2 --dist loadgroup` runs the others on two workers (the Ray
tests grouped on one, the image builds on one); `.ci/run` runs both. Every test under
tests/e2e/ (real CLI processes, trainings, the Ray cluster) and every test marked `ray` is
marked `slow` here; other tests over ~5 s carry `@pytest.mark.slow` themselves.

Tests never write into the source tree (issue 14: `examples/*/.mlrt/` was left behind, which a
user's `cp -r` then copied): the session fails when it created, changed or removed a file under
examples/, or left a new ignored path (`.mlrt/`, caches) or untracked file (other than a `.py`
source a developer may be writing meanwhile) anywhere else in the checkout."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
E2E = REPO / "tests" / "e2e"
EXAMPLES = REPO / "examples"
# What running Python and the linters leave in a checkout on their own.
TOOL_LEFTOVERS = (
    "__pycache__",
    ".pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".import_linter_cache",
    ".coverage",
)
_TREE_KEY = pytest.StashKey[tuple[dict[str, tuple[int, int]], set[str] | None]]()


def _example_files() -> dict[str, tuple[int, int]]:
    """Every file under examples/ with its size and modification time."""
    out: dict[str, tuple[int, int]] = {}
    for p in EXAMPLES.rglob("*"):
        if p.is_file() and not any(part in TOOL_LEFTOVERS for part in p.parts):
            st = p.stat()
            out[str(p.relative_to(REPO))] = (st.st_size, st.st_mtime_ns)
    return out


def _untracked_paths() -> set[str] | None:
    """`git status` lines for untracked and ignored paths; None outside a git checkout."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--ignored", "-z"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    # Untracked Python files are a developer's new sources (written while the tests ran), not
    # a test's leftovers; everything else untracked or ignored counts.
    entries = {
        e for e in proc.stdout.split("\0") if e[:2] == "!!" or (e[:2] == "??" and not e.endswith(".py"))
    }
    return {e for e in entries if not any(t in e for t in TOOL_LEFTOVERS)}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks
        session.stash[_TREE_KEY] = (_example_files(), _untracked_paths())


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _TREE_KEY not in session.stash:
        return
    examples_before, untracked_before = session.stash[_TREE_KEY]
    examples_after = _example_files()
    problems = [
        f"{path}: {'created' if path not in examples_before else 'removed' if path not in examples_after else 'changed'}"
        for path in sorted(set(examples_before) | set(examples_after))
        if examples_before.get(path) != examples_after.get(path)
    ]
    untracked_after = _untracked_paths()
    if untracked_before is not None and untracked_after is not None:
        problems += [f"{e[3:]}: left in the checkout" for e in sorted(untracked_after - untracked_before)]
    if problems:
        tw = session.config.get_terminal_writer()
        tw.line()
        tw.line("The test session wrote into the source tree (tests must use temporary copies):", red=True)
        for p in problems:
            tw.line(f"  {p}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(E2E) or item.get_closest_marker("ray") is not None:
            item.add_marker(pytest.mark.slow)
        # The slow lane runs on two xdist workers (`-n 2 --dist loadgroup`): the Ray tests share
        # one worker, and its one session cluster; the image builds share the other's layer cache.
        if item.get_closest_marker("ray") is not None:
            item.add_marker(pytest.mark.xdist_group("ray"))
        elif item.get_closest_marker("images") is not None:
            item.add_marker(pytest.mark.xdist_group("images"))


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
