"""Writing a saved plan (`plan -out FILE`): private, atomic, with errors a user can act on.

A plan file holds the planned values, sensitive ones included (as Terraform's does), so it is
written 0600 like the state. It is written to a temporary file beside the target and renamed over
it, so a kill never leaves half a plan, and a symlink at the target is replaced, not followed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import MlrtError

PLAN_FILE_MODE = 0o600


def write_plan_file(path: Path, text: str) -> None:
    """Write `text` to `path` (0600, atomically). Raises MlrtError when that cannot be done."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise MlrtError(
            f"Cannot save the plan to {path}: it is a directory",
            "Give -out a file name, for example -out plan.mlrtplan.",
        )
    if not parent.is_dir():
        raise MlrtError(
            f"Cannot save the plan to {path}: the directory {parent} does not exist",
            "Create the directory first or choose a path in an existing one.",
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise MlrtError(f"Cannot save the plan to {path}: {exc.strerror}", "Choose a writable path.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), PLAN_FILE_MODE)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MlrtError(f"Cannot save the plan to {path}: {exc.strerror}", "Choose a writable path.") from exc
