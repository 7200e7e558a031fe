"""Model versions of trainings, and which of them services use.

Each training run writes one immutable version: a directory `<root>/<run_id>` holding the model
file and `metadata.json` (written last, so a directory without it is not a version). `<root>` is
the training's `artifact_location`, else `<project>/.mlrt/models/<training name>/`. Run ids are
`<name>-YYYYmmdd-HHMMSS-<hex>` (`providers.kit.training.new_run_id`), so two trainings that share
an `artifact_location` never see each other's versions.

Services on the local and ray providers record the model directories they serve in
`<project>/.mlrt/model-users/<user>.json` (one file per service, written before a server loads the
model, rewritten once a roll has finished, removed when the service is deleted). Pruning keeps
the newest `keep_versions` versions and never removes one that such a record names, nor the
training's current version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from providers.kit.records import atomic_write_json

METADATA = "metadata.json"
USERS_DIR = "model-users"
_RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


def is_version_of(name: str, dirname: str) -> bool:
    """Whether `dirname` is a run id of the training `name` (and not of one whose name starts
    with it: `churn` and `churn-v2` share a prefix)."""
    return dirname.startswith(name + "-") and bool(_RUN_ID.fullmatch(dirname[len(name) + 1 :]))


def _resolved(path: str | Path) -> str:
    return os.path.realpath(str(path))


def versions(root: Path, name: str) -> list[Path]:
    """The finished versions of training `name` under `root`, oldest first."""
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and is_version_of(name, p.name) and (p / METADATA).is_file()
    ]

    def when(p: Path) -> tuple[str, float, str]:
        # The run id starts with the second it began; metadata.json's mtime breaks ties.
        stamp = p.name[len(name) + 1 : len(name) + 16]
        return (stamp, (p / METADATA).stat().st_mtime, p.name)

    return sorted(found, key=when)


def describe(root: Path, name: str) -> list[dict[str, Any]]:
    """The versions as state records them: id, model_uri, created_at (oldest first)."""
    out: list[dict[str, Any]] = []
    for p in versions(root, name):
        try:
            meta = json.loads((p / METADATA).read_text())
        except (OSError, ValueError):
            meta = {}
        out.append(
            {
                "id": p.name,
                "model_uri": str(p),
                "created_at": meta.get("created_at"),
            }
        )
    return out


# -- who uses which version ---------------------------------------------------------------------


def _users_file(data_dir: Path, user: str) -> Path:
    return data_dir / USERS_DIR / f"{user}.json"


def model_path(project_dir: Path, model: object) -> str | None:
    """A service's `model` argument as the path it serves (relative to the project)."""
    if not isinstance(model, str) or not model or "://" in model:
        return None
    return model if os.path.isabs(model) else str((project_dir / model).resolve())


def record_use(data_dir: Path, user: str, models: Iterable[str | None]) -> None:
    """Record that `user` (a service: `<provider>-<name>`) serves `models` (paths); an empty
    list removes its record."""
    paths = sorted({_resolved(m) for m in models if m})
    if not paths:
        release(data_dir, user)
        return
    atomic_write_json(_users_file(data_dir, user), {"models": paths})


def release(data_dir: Path, user: str) -> None:
    _users_file(data_dir, user).unlink(missing_ok=True)


def in_use(data_dir: Path) -> dict[str, list[str]]:
    """Resolved model path -> the users that serve it. An unreadable record protects nothing
    it could name, so it is reported as using everything (`*`): pruning then removes nothing."""
    out: dict[str, list[str]] = {}
    d = data_dir / USERS_DIR
    if not d.is_dir():
        return out
    for f in sorted(d.glob("*.json")):
        try:
            models = json.loads(f.read_text()).get("models") or []
        except (OSError, ValueError, AttributeError):
            models = ["*"]
        for m in models:
            out.setdefault(str(m), []).append(f.stem)
    return out


def prune(
    data_dir: Path,
    root: Path,
    name: str,
    keep: int,
    current: str | None,
    log: Callable[[str], None] = lambda line: None,
) -> list[str]:
    """Remove versions of `name` older than the newest `keep`, except the current one and any a
    service uses; returns the ids removed."""
    users = in_use(data_dir)
    if "*" in users:
        log(f"an unreadable record under {data_dir / USERS_DIR} names no model; no version is pruned")
        return []
    found = versions(root, name)
    protect = {_resolved(current)} if current else set()
    removed: list[str] = []
    for p in found[: max(0, len(found) - keep)]:
        rp = _resolved(p)
        if rp in protect:
            continue
        if rp in users:
            log(f"keeping model version {p.name}: served by {', '.join(users[rp])}")
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    return removed


def remove_all(
    data_dir: Path,
    root: Path,
    name: str,
    extra: str | None,
    own_root: bool,
    log: Callable[[str], None] = lambda line: None,
) -> list[str]:
    """Remove every version of `name` under `root` (and `extra`, a model directory kept
    elsewhere) that no service uses, and `root` itself when it is mlrt's own folder and now
    empty; returns the paths kept because a service uses them."""
    users = in_use(data_dir)
    kept: list[str] = []
    targets = list(versions(root, name))
    if extra and Path(extra).exists() and all(_resolved(extra) != _resolved(t) for t in targets):
        targets.append(Path(extra))
    for p in targets:
        who = users.get(_resolved(p)) or users.get("*")
        if who:
            log(f"keeping model version {p.name}: served by {', '.join(who)}")
            kept.append(str(p))
            continue
        shutil.rmtree(p, ignore_errors=True)
    if own_root:
        try:
            root.rmdir()  # only when empty
        except OSError:
            pass
    return kept
