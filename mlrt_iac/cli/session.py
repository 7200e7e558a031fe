"""Opening a project, its state backend and its lock for one CLI command.

Light to import (the engine and the state package load on first use), so a command that only
needs paths, like `fmt`, does not pay for the configuration evaluator or the backends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..plan.project import Project
    from ..state import Backend, StateDocument


def project_dir(args: argparse.Namespace) -> Path:
    d = getattr(args, "chdir", None) or getattr(args, "global_chdir", None) or "."
    return Path(d).resolve()


def open_project_for(args: argparse.Namespace, inputs: dict[str, Any] | None = None) -> Project:
    from ..errors import MlrtError
    from ..plan.project import open_project

    d = project_dir(args)
    if not d.is_dir():
        raise MlrtError(f"No such directory: {d}", "Pass an existing directory to -chdir.")
    return open_project(d, getattr(args, "vars", []), getattr(args, "var_files", []), os.environ, inputs)


def backend_for(project: Project, workspace: str | None = None) -> Backend:
    """The project's backend, for the state of `workspace` (default: the project's current one)."""
    from ..state import load_backend

    ws = project.workspace if workspace is None else workspace
    settings = project.settings()
    if settings.backend is None:
        return load_backend("local", project.project_dir, {}, ws)
    return load_backend(settings.backend.type, project.project_dir, dict(settings.backend.attributes), ws)


@contextlib.contextmanager
def locked(backend: Backend, operation: str, args: argparse.Namespace) -> Iterator[str | None]:
    if not getattr(args, "lock", True):
        yield None
        return
    from ..state import lock_info

    lock_id = backend.lock(lock_info(backend, operation), timeout=getattr(args, "lock_timeout", 0.0))
    try:
        yield lock_id
    finally:
        backend.unlock(lock_id)


def read_state(backend: Backend) -> StateDocument:
    from ..state import read_or_new

    return read_or_new(backend)


def resolve_file(args: argparse.Namespace, name: str) -> Path:
    p = Path(name)
    # Like terraform -chdir: relative paths are relative to the configuration directory.
    return p if p.is_absolute() else project_dir(args) / p


def read_text_file(args: argparse.Namespace, name: str, what: str) -> str:
    from ..errors import MlrtError

    path = resolve_file(args, name)
    try:
        return path.read_text()
    except OSError as exc:
        raise MlrtError(f"Failed to read {what} {name}", f"{exc.strerror or exc}: {path}") from None
