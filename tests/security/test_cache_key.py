"""(d) The machine key: 0600, outside the project, created once even under a race; without a
usable key the cache is off and mlrt still works."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlrt_iac.config import cache as C
from mlrt_iac.config.loader import load_config

from .helpers import GOOD, run_cli, user_env, write_project


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _entries(project: Path) -> list[Path]:
    d = project / ".mlrt" / "cache"
    return [p for p in d.rglob("*") if p.is_file()] if d.exists() else []


def test_key_is_private_and_outside_the_project(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    project = write_project(tmp_path / "proj", {"main.hcl": GOOD})
    r = run_cli(project, "validate", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    key = tmp_path / "xdg-cache" / "mlrt" / "cache-key"
    assert key.is_file() and len(key.read_bytes()) == 32
    assert _mode(key) == 0o600 and _mode(key.parent) == 0o700
    assert not key.resolve().is_relative_to(project.resolve())
    assert not [p for p in project.rglob("*key*")]
    assert [p.name for p in key.parent.iterdir()] == ["cache-key"]  # no temp files left
    # the same key on the next run, and entry names depend on it
    before = key.read_bytes()
    assert run_cli(project, "validate", env=env).returncode == 0
    assert key.read_bytes() == before
    a = C.ParseCache(Path("x"), key.read_bytes()).key(GOOD.encode())
    b = C.ParseCache(Path("x"), b"\0" * 32).key(GOOD.encode())
    assert a != b and (project / ".mlrt" / "cache" / a[:2] / f"{a}{C._SUFFIX}").is_file()


def test_default_is_home_cache(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    del env["XDG_CACHE_HOME"]
    project = write_project(tmp_path / "proj", {"main.hcl": GOOD})
    assert run_cli(project, "validate", env=env).returncode == 0
    key = Path(env["HOME"]) / ".cache" / "mlrt" / "cache-key"
    assert key.is_file() and _mode(key) == 0o600


def test_no_writable_home_means_no_cache(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    env = {"HOME": str(not_a_dir / "home"), "XDG_CACHE_HOME": str(not_a_dir / "cache"), "NO_COLOR": "1"}
    project = write_project(tmp_path / "proj", {"main.hcl": GOOD})
    r = run_cli(project, "validate", env=env)
    assert r.returncode == 0 and "Success" in r.stdout, r.stdout + r.stderr
    assert _entries(project) == []


def test_key_inside_the_project_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI job whose cache home lies in the checkout would take a key the PR can supply."""
    project = write_project(tmp_path / "proj", {"main.hcl": GOOD})
    planted = project / ".xdg" / "mlrt" / "cache-key"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"k" * 32)
    planted.chmod(0o600)
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / ".xdg"))
    assert C.load_secret(project) is None
    cfg, d = load_config(project)
    assert not d.has_errors and (cfg.cache_hits, cfg.cache_misses) == (0, 0) and _entries(project) == []


@pytest.mark.parametrize("problem", ["world-readable", "short", "directory", "symlink"])
def test_unusable_key_file_turns_the_cache_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str
) -> None:
    key = tmp_path / "xdg" / "mlrt" / "cache-key"
    key.parent.mkdir(parents=True)
    if problem == "world-readable":
        key.write_bytes(b"k" * 32)
        key.chmod(0o644)
    elif problem == "short":
        key.write_bytes(b"k" * 8)
        key.chmod(0o600)
    elif problem == "directory":
        key.mkdir()
    else:
        target = tmp_path / "elsewhere"
        target.write_bytes(b"k" * 32)
        target.chmod(0o600)
        key.symlink_to(target)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert C.load_secret() is None
    project = write_project(tmp_path / "proj", {"main.hcl": GOOD})
    cfg, d = load_config(project)
    assert not d.has_errors and cfg.cache_hits == 0 and _entries(project) == []


def test_racing_processes_agree_on_one_key(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    code = (
        "import os, sys; os.environ['XDG_CACHE_HOME'] = sys.argv[1];"
        "from mlrt_iac.config.cache import load_secret; k = load_secret(); print(k.hex() if k else '')"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(xdg)], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert [p.name for p in (xdg / "mlrt").iterdir()] == ["cache-key"]
