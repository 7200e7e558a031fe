"""Files and paths, relative to the evaluator's base directory: file, templatefile, abspath..."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path
from typing import Any

from ..valueops import (
    HclSet,
    to_str,
)
from .base import Func, FuncContext, FuncError, map_arg, on_str, rendering


def _path(ctx: FuncContext, p: Any) -> Path:
    pp = Path(os.path.expanduser(to_str(p)))
    return pp if pp.is_absolute() else ctx.base_dir / pp


# Bytes one file function may read: a configuration file is small; /dev/zero is not.
MAX_FILE_BYTES = 16 * 1024 * 1024


def _read_regular(ctx: FuncContext, p: Any, missing: str) -> bytes:
    """The bytes of a regular file of the configuration, at most MAX_FILE_BYTES.

    Opened without blocking and checked with fstat before reading, so a FIFO, a device such as
    /dev/zero or a directory is an error at once instead of a read that never ends.
    """
    path = _path(ctx, p)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FuncError(missing) from None
    except OSError as e:
        raise FuncError(f"cannot read {to_str(p)!r}: {e.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FuncError(f"{to_str(p)!r} is not a regular file; file functions read only regular files")
        if info.st_size > MAX_FILE_BYTES:
            raise FuncError(
                f"{to_str(p)!r} has {info.st_size:,} bytes; file functions read at most {MAX_FILE_BYTES:,}"
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise FuncError(f"cannot read {to_str(p)!r}: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise FuncError(f"{to_str(p)!r} is larger than the {MAX_FILE_BYTES:,} bytes file functions read")
    return data


def f_file(ctx: FuncContext, p: Any) -> Any:
    data = _read_regular(
        ctx,
        p,
        f"no file exists at {to_str(p)!r}; this function works only with files that are"
        " distributed as part of the configuration",
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FuncError(f"contents of {to_str(p)!r} are not valid UTF-8; use filebase64 instead") from None


def f_filebase64(ctx: FuncContext, p: Any) -> Any:
    return base64.b64encode(_read_regular(ctx, p, f"no file exists at {to_str(p)!r}")).decode()


def read_bytes(ctx: FuncContext, p: Any) -> bytes:
    """The bytes of a file of the configuration (for the file hash functions)."""
    return _read_regular(
        ctx,
        p,
        f"no file exists at {to_str(p)}; this function works only with files that are distributed"
        " as part of the configuration source code, so if this file will be created by a resource"
        " in this configuration you must instead obtain this result from an attribute of that"
        " resource",
    )


def _glob_regex(component: str) -> str:
    """One path component of a doublestar pattern as a regular expression; ValueError when the
    pattern is malformed."""
    out: list[str] = []
    i, n = 0, len(component)
    depth = 0
    while i < n:
        c = component[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError
            out.append(re.escape(component[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            neg = j < n and component[j] in "^!"
            if neg:
                j += 1
            k = j
            while k < n and component[k] != "]":
                k += 2 if component[k] == "\\" else 1
            if k >= n or k == j:
                raise ValueError
            out.append(("[^" if neg else "[") + component[j:k].replace("[", "\\[") + "]")
            i = k + 1
            continue
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ValueError
    return "".join(out)


_MAGIC = re.compile(r"[*?\[{\\]")


def f_fileset(ctx: FuncContext, path: Any, pattern: Any) -> Any:
    base = _path(ctx, path)
    shown = os.path.normpath(os.path.join(to_str(path), to_str(pattern)))
    full = os.path.normpath(os.path.join(str(base), to_str(pattern)))
    parts = full.split(os.sep)
    fixed = 0
    while fixed < len(parts) and not _MAGIC.search(parts[fixed]):
        fixed += 1
    try:
        rest = parts[fixed:]
        rx = "".join(
            (".+" if k == len(rest) - 1 else "(?:[^/]+/)*")
            if comp == "**"
            else _glob_regex(comp) + ("" if k == len(rest) - 1 else "/")
            for k, comp in enumerate(rest)
        )
        matcher = re.compile(rx + "$")
    except (ValueError, re.error):
        raise FuncError(f"failed to glob pattern {_quote(shown)}: syntax error in pattern") from None
    root = os.sep.join(parts[:fixed]) or os.sep
    found: list[str] = []
    if fixed == len(parts):
        if os.path.isfile(root):
            found.append(root)
    elif os.path.isdir(root):
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            rel_dir = os.path.relpath(dirpath, root)
            for f in files:
                rel = f if rel_dir == "." else f"{rel_dir}/{f}".replace(os.sep, "/")
                full_f = os.path.join(dirpath, f)
                if matcher.match(rel) and os.path.isfile(full_f):
                    found.append(full_f)
    return HclSet.of(os.path.relpath(f, base).replace(os.sep, "/") for f in found)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def f_fileexists(ctx: FuncContext, p: Any) -> Any:
    return _path(ctx, p).is_file()


def f_templatefile(ctx: FuncContext, p: Any, variables: Any) -> Any:
    text = f_file(ctx, p)
    with rendering("templatefile"):
        return ctx.render_template(text, map_arg(variables, "second argument"), to_str(p))


def f_abspath(ctx: FuncContext, p: Any) -> Any:
    return os.path.abspath(to_str(p))


FUNCTIONS: dict[str, Func] = {
    "file": Func(f_file, 1, 1),
    "filebase64": Func(f_filebase64, 1, 1),
    "fileexists": Func(f_fileexists, 1, 1),
    "fileset": Func(f_fileset, 2, 2),
    "templatefile": Func(f_templatefile, 2, 2),
    "basename": Func(on_str(os.path.basename), 1, 1),
    "dirname": Func(on_str(os.path.dirname), 1, 1),
    "abspath": Func(f_abspath, 1, 1),
    "pathexpand": Func(on_str(os.path.expanduser), 1, 1),
}
