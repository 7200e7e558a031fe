"""Opening a project, its state backend and its lock for one CLI command."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import MlrtError
from ..plan.project import Project, open_project
from ..state import Backend, StateDocument, load_backend, lock_info, read_or_new


def open_project_for(args: argparse.Namespace, inputs: dict[str, Any] | None = None) -> Project:
    from .main import project_dir

    d = project_dir(args)
    if not d.is_dir():
        raise MlrtError(f"No such directory: {d}", "Pass an existing directory to -chdir.")
    return open_project(d, getattr(args, "vars", []), getattr(args, "var_files", []), os.environ, inputs)


def backend_for(project: Project) -> Backend:
    settings = project.settings()
    if settings.backend is None:
        return load_backend("local", project.project_dir, {})
    return load_backend(settings.backend.type, project.project_dir, dict(settings.backend.attributes))


@contextlib.contextmanager
def locked(backend: Backend, operation: str, args: argparse.Namespace) -> Iterator[str | None]:
    if not getattr(args, "lock", True):
        yield None
        return
    lock_id = backend.lock(lock_info(backend, operation), timeout=getattr(args, "lock_timeout", 0.0))
    try:
        yield lock_id
    finally:
        backend.unlock(lock_id)


def read_state(backend: Backend) -> StateDocument:
    return read_or_new(backend)


def resolve_file(args: argparse.Namespace, name: str) -> Path:
    from .main import project_dir

    p = Path(name)
    # Like terraform -chdir: relative paths are relative to the configuration directory.
    return p if p.is_absolute() else project_dir(args) / p


def read_text_file(args: argparse.Namespace, name: str, what: str) -> str:
    path = resolve_file(args, name)
    try:
        return path.read_text()
    except OSError as exc:
        raise MlrtError(f"Failed to read {what} {name}", f"{exc.strerror or exc}: {path}") from None
