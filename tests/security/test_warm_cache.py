"""(c) A warm run really hits the cache, gives what a cold run gives, and the cache holds data."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from mlrt_iac.config import cache as C
from mlrt_iac.config.loader import load_config, parse_source
from mlrt_iac.config.parser import parse_file_text
from mlrt_iac.diagnostics import Diagnostics

from .helpers import GOOD, RICH, node_classes, run_cli, same, user_env, write_project


def _entries(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file())


def test_entries_are_authenticated_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    project = write_project(tmp_path / "proj", {"a.hcl": GOOD, "b.hcl": GOOD.replace('"cpu"', '"b"')})
    load_config(project)
    entries = _entries(project / ".mlrt" / "cache" / "parse")
    assert len(entries) == 2
    for e in entries:
        data = e.read_bytes()
        assert data.startswith(C.MAGIC) and not data.startswith(b"\x80")  # not a pickle
        tree = orjson.loads(data[len(C.MAGIC) + 32 :])  # plain JSON: lists, ints, strings
        assert isinstance(tree, list) and tree[0] == 0


def test_warm_load_hits_and_matches_cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    files = {"main.hcl": GOOD, "rich.hcl": RICH}
    project = write_project(tmp_path / "proj", files)
    cache_dir = tmp_path / "cache"
    cold, d1 = load_config(project, cache_dir=cache_dir)
    assert (cold.cache_hits, cold.cache_misses) == (0, 2)
    warm, d2 = load_config(project, cache_dir=cache_dir)
    assert (warm.cache_hits, warm.cache_misses) == (2, 0)
    assert [str(x) for x in d1] == [str(x) for x in d2]
    assert cold.sources == warm.sources

    # node for node, every class of the AST, values JSON has no type for included
    cache = C.ParseCache.for_project(cache_dir)
    for name, text in files.items():
        hits = cache.hits
        tree = parse_source(text, name, cache, Diagnostics())
        assert cache.hits == hits + 1
        assert same(tree, parse_file_text(text))
    rich = parse_file_text(RICH)
    assert node_classes(rich) == set(C._NODE_CLASSES)
    encoded = C.encode(rich)
    assert b'"123456789012345678901234567890"' in encoded and b'"inf"' in encoded
    assert same(C.decode(encoded), rich)


def test_cli_warm_equals_cold(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    project = write_project(tmp_path / "proj", {"main.hcl": GOOD})
    cold = run_cli(project, "plan", env=env)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert _entries(project / ".mlrt" / "cache")
    warm = run_cli(project, "plan", env=env)
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr)
