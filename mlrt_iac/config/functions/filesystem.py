"""Files and paths, relative to the evaluator's base directory: file, templatefile, abspath..."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from ..valueops import (
    to_str,
)
from .base import Func, FuncContext, FuncError, map_arg, on_str


def _path(ctx: FuncContext, p: Any) -> Path:
    pp = Path(os.path.expanduser(to_str(p)))
    return pp if pp.is_absolute() else ctx.base_dir / pp


def f_file(ctx: FuncContext, p: Any) -> Any:
    path = _path(ctx, p)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FuncError(
            f"no file exists at {to_str(p)!r}; this function works only with files that are"
            " distributed as part of the configuration"
        ) from None
    except UnicodeDecodeError:
        raise FuncError(f"contents of {to_str(p)!r} are not valid UTF-8; use filebase64 instead") from None
    except OSError as e:
        raise FuncError(f"cannot read {to_str(p)!r}: {e.strerror}") from None


def f_filebase64(ctx: FuncContext, p: Any) -> Any:
    try:
        return base64.b64encode(_path(ctx, p).read_bytes()).decode()
    except OSError as e:
        raise FuncError(f"cannot read {to_str(p)!r}: {e.strerror}") from None


def f_fileexists(ctx: FuncContext, p: Any) -> Any:
    return _path(ctx, p).is_file()


def f_templatefile(ctx: FuncContext, p: Any, variables: Any) -> Any:
    return ctx.render_template(f_file(ctx, p), map_arg(variables, "second argument"), to_str(p))


def f_abspath(ctx: FuncContext, p: Any) -> Any:
    return os.path.abspath(to_str(p))


FUNCTIONS: dict[str, Func] = {
    "file": Func(f_file, 1, 1),
    "filebase64": Func(f_filebase64, 1, 1),
    "fileexists": Func(f_fileexists, 1, 1),
    "templatefile": Func(f_templatefile, 2, 2),
    "basename": Func(on_str(os.path.basename), 1, 1),
    "dirname": Func(on_str(os.path.dirname), 1, 1),
    "abspath": Func(f_abspath, 1, 1),
    "pathexpand": Func(on_str(os.path.expanduser), 1, 1),
}
