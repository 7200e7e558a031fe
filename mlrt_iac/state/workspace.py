"""Workspaces: named states of one configuration, as Terraform has them.

The current workspace is the name in `<project>/.mlrt/environment` (Terraform keeps it in
`.terraform/environment`), `default` when that file is absent; `MLRT_WORKSPACE` overrides it,
as `TF_WORKSPACE` does. Names are checked here, once, before any backend turns one into a
path or an object name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import StateError

DEFAULT_WORKSPACE = "default"
ENV_VAR = "MLRT_WORKSPACE"
ENVIRONMENT_FILE = Path(".mlrt") / "environment"

# Terraform accepts any name that is its own URL path segment. mlrt is stricter so that a name is
# also a safe directory name and fits a Kubernetes label value: letters, digits, "-" and "_",
# not starting with "-" (it would read as a flag), at most 63 characters.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")
NAME_RULE = (
    'A workspace name contains only letters, digits, "-" and "_", does not start with "-", '
    "and is at most 63 characters long."
)


def check_name(name: str, where: str = "") -> str:
    """`name` when it is a valid workspace name; a StateError saying the rule otherwise."""
    if not NAME_PATTERN.fullmatch(name):
        shown = f" (from {where})" if where else ""
        raise StateError(f'The workspace name "{name}" is not allowed{shown}', NAME_RULE)
    return name


def overridden(environ: Mapping[str, str]) -> bool:
    """Whether `MLRT_WORKSPACE` chooses the workspace (an empty value does not)."""
    return bool(environ.get(ENV_VAR))


def current_workspace(project_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The workspace commands in `project_dir` use now."""
    env = os.environ if environ is None else environ
    if overridden(env):
        return check_name(env[ENV_VAR], f"the {ENV_VAR} environment variable")
    path = project_dir / ENVIRONMENT_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return DEFAULT_WORKSPACE
    except OSError as exc:
        raise StateError(f"Cannot read {ENVIRONMENT_FILE}", f"{exc.strerror}: {path}") from exc
    return check_name(text, str(ENVIRONMENT_FILE)) if text else DEFAULT_WORKSPACE


def select_workspace(project_dir: Path, name: str) -> None:
    """Record `name` as the project's current workspace (atomically: temp file and rename)."""
    path = project_dir / ENVIRONMENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(check_name(name) + "\n", encoding="utf-8")
    os.replace(tmp, path)
