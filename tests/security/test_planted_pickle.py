"""(a) A pull request that commits a pickle into `.mlrt/cache/` must not run code in CI.

The attack: the old cache named entries `sha256(salt + file)` with a salt made only of public
versions, so a PR could precompute the name and commit a pickle there; `mlrt validate` unpickled
it (running its code) and printed 'Success!'. Here we plant that pickle where the old code
looked, plus one in every sub-folder name the new code can use, and run the real CLI."""

from __future__ import annotations

import pickle
from pathlib import Path

from .helpers import GOOD, evil_pickle, old_entry_paths, run_cli, user_env, write_project


def test_the_payload_is_live(tmp_path: Path) -> None:
    """Unpickling the planted bytes does run code, so the tests below would see a regression."""
    marker = tmp_path / "marker"
    pickle.loads(evil_pickle(marker))
    assert marker.read_text().startswith("uid=")


def _plant(project: Path, payload: bytes) -> list[Path]:
    planted = []
    for p in old_entry_paths(project, GOOD):  # exactly where the old code looked
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(payload)
        planted.append(p)
    for base in (project / ".mlrt" / "cache", project / ".mlrt" / "cache" / "parse"):
        for i in range(256):  # every sub-folder name either cache layout uses
            sub = base / f"{i:02x}"
            sub.mkdir(parents=True, exist_ok=True)
            for name in ("planted.pickle", f"{i:02x}{'0' * 62}.pickle", f"{i:02x}{'0' * 62}.ast"):
                (sub / name).write_bytes(payload)
                planted.append(sub / name)
    return planted


def test_planted_pickle_does_not_run(tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", {"main.hcl": GOOD})
    marker = tmp_path / "pwned"
    payload = evil_pickle(marker)
    planted = set(_plant(project, payload))
    env = user_env(tmp_path)

    for command in ("validate", "plan"):
        r = run_cli(project, command, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert not marker.exists(), f"`mlrt {command}` ran the planted pickle"
    assert "1 to add" in r.stdout

    # Even an attacker who knew the new entry names gets nowhere: overwrite every entry the
    # cache wrote with the pickle; the next run treats it as a miss and writes it afresh.
    written = [p for p in (project / ".mlrt" / "cache").rglob("*") if p.is_file() and p not in planted]
    assert written, "validate wrote no cache entry"
    for p in written:
        p.write_bytes(payload)
    r = run_cli(project, "validate", env=env)
    assert r.returncode == 0 and "Success" in r.stdout, r.stdout + r.stderr
    assert not marker.exists()
    assert all(p.read_bytes() != payload for p in written)  # rewritten with the real parse
