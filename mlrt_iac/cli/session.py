"""Opening a workspace, its state backend and its lock for one CLI command."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

from ..errors import DiagnosticsError, MlrtError
from ..plan.workspace import Workspace, discover_backends, open_workspace


def workspace(args: argparse.Namespace, inputs: dict[str, Any] | None = None) -> Workspace:
    from .main import project_dir

    d = project_dir(args)
    if not d.is_dir():
        raise MlrtError(f"No such directory: {d}", "Pass an existing directory to -chdir.")
    try:
        return open_workspace(d, getattr(args, "vars", []), getattr(args, "var_files", []), os.environ, inputs)
    except DiagnosticsError as exc:
        exc.sources = getattr(exc, "sources", {})  # type: ignore[attr-defined]
        raise


def backend_for(ws: Workspace) -> Any:
    settings = ws.settings()
    kind = "local"
    config: dict[str, Any] = {}
    if settings.backend is not None:
        kind = settings.backend.type
        config = dict(settings.backend.attributes)
    backends = discover_backends()
    if kind not in backends:
        raise MlrtError(f'Backend "{kind}" is not installed',
                        f"Installed backends: {', '.join(sorted(backends)) or 'none'}.")
    return backends[kind](ws.project_dir, config)


@contextlib.contextmanager
def locked(backend: Any, operation: str, args: argparse.Namespace) -> Iterator[str | None]:
    if not getattr(args, "lock", True):
        yield None
        return
    info = backend.lock_info(operation)
    lock_id = backend.lock(info, timeout=getattr(args, "lock_timeout", 0.0))
    try:
        yield lock_id
    finally:
        backend.unlock(lock_id)


def read_state(backend: Any) -> Any:
    doc = backend.read()
    if doc is None:
        doc = backend.new_document()
    return doc


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
