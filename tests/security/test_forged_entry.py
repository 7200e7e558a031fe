"""(b) An entry that fails to verify is ignored: validate reports the file's real content.

The forgeries sit at the exact name the cache looks up (the test knows the machine key; an
attacker would not even know the name), so only the verification stands between them and a
wrong parse."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from mlrt_iac.config import ast as A
from mlrt_iac.config import cache as C
from mlrt_iac.config.loader import parse_source
from mlrt_iac.config.parser import parse_file_text
from mlrt_iac.diagnostics import Diagnostics

from .helpers import BAD, GOOD, RICH, run_cli, same, user_env, write_project


def _key(tmp_path: Path) -> bytes:
    return (tmp_path / "xdg-cache" / "mlrt" / "cache-key").read_bytes()


def test_forged_entry_does_not_hide_an_error(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    project = write_project(tmp_path / "proj", {"main.hcl": BAD})
    r = run_cli(project, "validate", env=env)
    assert r.returncode == 1 and "max_nodez" in r.stdout + r.stderr, r.stdout + r.stderr

    real = C.ParseCache(project / ".mlrt" / "cache", _key(tmp_path))
    name = real.key(BAD.encode())
    entry = real._path(name)
    assert entry.is_file()
    # the forgery: a well-formed entry of the new format whose AST is the *clean* file,
    # authenticated with the wrong key
    C.ParseCache(project / ".mlrt" / "cache", b"\x07" * 32).put(name, parse_file_text(GOOD))
    forged = entry.read_bytes()
    assert forged.startswith(C.MAGIC)
    assert same(C.decode(forged[len(C.MAGIC) + 32 :]), parse_file_text(GOOD))

    r = run_cli(project, "validate", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "max_nodez" in r.stdout + r.stderr and "line 3" in r.stdout + r.stderr
    assert entry.read_bytes() != forged  # overwritten with the real parse
    assert same(real.get(name), parse_file_text(BAD))


def _bad_entries(secret: bytes, name: str, good: bytes) -> dict[str, bytes]:
    """Ways an entry can be wrong; each must be a silent miss."""
    payload = good[len(C.MAGIC) + 32 :]
    cache = C.ParseCache(Path("/nonexistent"), secret)

    def signed(p: bytes) -> bytes:
        return C.MAGIC + cache._mac(name, p) + p

    other = C.ParseCache(Path("/nonexistent"), secret)
    return {
        "empty": b"",
        "garbage": b"\x80\x04garbage",
        "truncated": good[: len(good) // 2],
        "header only": good[: len(C.MAGIC) + 32],
        "flipped payload byte": good[:-2] + bytes([good[-2] ^ 1]) + good[-1:],
        "wrong magic": b"MLRTAST1" + good[len(C.MAGIC) :],
        "mac for another name": C.MAGIC + other._mac("0" * 64, payload) + payload,
        # authentic (right key) but not our shape: these test the decoder alone
        "signed not json": signed(b"{not json"),
        "signed unknown tag": signed(b"[999, [1,1,1,1]]"),
        "signed string tag": signed(b'["os.system", "id"]'),
        "signed not a File": signed(orjson.dumps(C._enc(A.Literal(1, (1, 1, 1, 1))))),
        "signed wrong arity": signed(b"[0, [1,1,1,1], [17]]"),
        "signed empty list": signed(b"[]"),
        "signed object": signed(b'{"a": 1}'),
    }


def test_bad_entries_are_silent_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    secret = C.load_secret()
    assert secret is not None
    cache = C.ParseCache(tmp_path / "cache", secret)
    name = cache.key(RICH.encode())
    cache.put(name, parse_file_text(RICH))
    good = cache._path(name).read_bytes()
    expected = parse_file_text(RICH)
    for label, data in _bad_entries(secret, name, good).items():
        cache._path(name).write_bytes(data)
        before = cache.misses
        assert cache.get(name) is None, label
        assert cache.misses == before + 1, label
        # through the loader: the real parse, and the entry is repaired
        diags = Diagnostics()
        tree = parse_source(RICH, "rich.hcl", cache, diags)
        assert not diags.has_errors and same(tree, expected), label
        assert same(cache.get(name), expected), label


def test_odd_files_at_the_entry_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A symlink (to a device or a real entry), a fifo or a directory is a miss, and never hangs."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = C.ParseCache.for_project(tmp_path / "cache")
    assert cache.enabled
    name = cache.key(GOOD.encode())
    path = cache._path(name)
    path.parent.mkdir(parents=True)
    real = tmp_path / "real-entry"
    cache.put(name, parse_file_text(GOOD))
    path.rename(real)
    for make in (
        lambda: path.symlink_to("/dev/zero"),
        lambda: path.symlink_to(real),
        lambda: os.mkfifo(path),
        lambda: path.mkdir(),
    ):
        make()
        assert cache.get(name) is None
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
