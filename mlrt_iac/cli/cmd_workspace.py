"""`mlrt workspace new|select|list|show|delete`: named states of one configuration.

Messages are Terraform's, so a user (or a script) moved from `terraform workspace` finds what it
expects. The current workspace lives in `.mlrt/environment`; `MLRT_WORKSPACE` overrides it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from rich.markup import escape

from ..errors import MlrtError, StateError
from ..plan.project import Project
from ..state import Backend, StateDocument, WorkspaceBackend
from ..state.workspace import (
    DEFAULT_WORKSPACE,
    ENV_VAR,
    check_name,
    overridden,
    select_workspace,
)
from .console import Out
from .session import backend_for, locked, open_project_for, read_state

_OVERRIDDEN_NOTE = f"The active workspace is being overridden using the {ENV_VAR} environment variable."


@contextlib.contextmanager
def _backend(project: Project, workspace: str | None = None) -> Iterator[WorkspaceBackend]:
    """The project's backend for `workspace` (the current one when None), closed afterwards."""
    backend: Backend = backend_for(project, workspace)
    try:
        if not isinstance(backend, WorkspaceBackend):
            raise MlrtError(
                "The backend does not support workspaces",
                f"{backend.describe()} keeps only the default workspace.",
            )
        yield backend
    finally:
        close = getattr(backend, "close", None)
        if callable(close):
            close()


def _name(args: argparse.Namespace) -> str:
    try:
        return check_name(args.name)
    except StateError as exc:
        raise MlrtError(exc.summary, exc.detail) from None


def _missing(name: str) -> MlrtError:
    return MlrtError(
        f'Workspace "{name}" doesn\'t exist.',
        'You can create this workspace with the "new" subcommand or include the "-or-create" '
        'flag with the "select" subcommand.',
    )


def cmd_workspace_show(args: argparse.Namespace, out: Out) -> int:
    out.raw(open_project_for(args).workspace + "\n")
    return 0


def cmd_workspace_list(args: argparse.Namespace, out: Out) -> int:
    project = open_project_for(args)
    current = project.workspace
    with _backend(project) as backend:
        names = backend.workspaces()
    if current not in names:
        names.append(current)  # selected (or overridden) but nothing written yet
    for name in names:
        out.raw(("* " if name == current else "  ") + name + "\n")
    out.raw("\n")
    if overridden(os.environ):
        out.print(_OVERRIDDEN_NOTE)
    return 0


def _create(project: Project, args: argparse.Namespace, name: str) -> None:
    """Write the new workspace's first (empty) state, so that `list` shows it."""
    with _backend(project, name) as backend:
        if name in backend.workspaces():
            raise MlrtError(f'Workspace "{name}" already exists')
        with locked(backend, "workspace new", args):
            if backend.read() is None:
                backend.write(StateDocument.new())


def cmd_workspace_new(args: argparse.Namespace, out: Out) -> int:
    name = _name(args)
    if overridden(os.environ) and os.environ[ENV_VAR] != name:
        raise MlrtError(
            f"The workspace is currently overridden using the {ENV_VAR} environment variable",
            "You cannot create a new workspace when using this setting. To create a new "
            "workspace, either unset this environment variable or update it to match the "
            "workspace name you are trying to create, and then run this command again.",
        )
    project = open_project_for(args)
    _create(project, args, name)
    select_workspace(project.project_dir, name)
    out.print(f'[bold green]Created and switched to workspace "{escape(name)}"![/]')
    out.print()
    out.print(
        "You're now on a new, empty workspace. Workspaces isolate their state, so if you run "
        '"mlrt plan" mlrt will not see any existing state for this configuration.'
    )
    return 0


def cmd_workspace_select(args: argparse.Namespace, out: Out) -> int:
    name = _name(args)
    if overridden(os.environ):
        raise MlrtError(
            f"The selected workspace is currently overridden using the {ENV_VAR} environment variable",
            "To select a new workspace, either update this environment variable or unset it and "
            "then run this command again.",
        )
    project = open_project_for(args)
    with _backend(project) as backend:
        exists = name in backend.workspaces()
    if not exists:
        if not args.or_create:
            raise _missing(name)
        _create(project, args, name)
        select_workspace(project.project_dir, name)
        out.print(f'[bold green]Created and switched to workspace "{escape(name)}"![/]')
        return 0
    select_workspace(project.project_dir, name)
    out.print(f'[bold green]Switched to workspace "{escape(name)}".[/]')
    return 0


def cmd_workspace_delete(args: argparse.Namespace, out: Out) -> int:
    name = _name(args)
    if name == DEFAULT_WORKSPACE:
        raise MlrtError("Cannot delete the default workspace", "The default workspace always exists.")
    project = open_project_for(args)
    if name == project.workspace:
        raise MlrtError(
            f'Workspace "{name}" is your active workspace.',
            "You cannot delete the currently active workspace. Please switch to another "
            "workspace and try again.",
        )
    with _backend(project, name) as backend:
        if name not in backend.workspaces():
            raise _missing(name)
        with locked(backend, "workspace delete", args):
            doc = read_state(backend)
            tracked = [r.address for r in doc.resources]
            if tracked and not args.force:
                listing = "\n".join(f"  - {a}" for a in tracked)
                raise MlrtError(
                    "Workspace is not empty",
                    f'Workspace "{name}" is currently tracking the following resource instances:\n'
                    f"{listing}\n\nDeleting this workspace would cause mlrt to lose track of any "
                    "associated remote objects, which would then require you to delete them "
                    "manually outside of mlrt. You should destroy these objects with mlrt before "
                    "deleting the workspace.\n\nIf you want to delete this workspace anyway, and "
                    "have mlrt forget about these managed objects, use the -force option to "
                    "disable this safety check.",
                )
            backend.delete_workspace()
    if tracked:
        out.err.print(
            f'[bold yellow]Warning:[/] [bold]Deleted workspace "{escape(name)}" still tracked '
            f"{len(tracked)} resource instance(s)[/]; mlrt no longer manages them."
        )
    out.print(f'[bold green]Deleted workspace "{escape(name)}"![/]')
    return 0
