"""fmt: HCL files rewritten in the canonical layout; needs the formatter, not the engine."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.fmt import format_paths, unified_diff, write_changes
from .console import Out
from .diagnostics_view import print_diagnostics
from .session import project_dir, resolve_file


def _shown(path: Path, base: Path) -> str:
    """The path as `terraform fmt` lists it: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def cmd_fmt(args: argparse.Namespace, out: Out) -> int:
    base = project_dir(args)
    paths = [resolve_file(args, p) for p in args.paths] if args.paths else [base]
    results = format_paths(paths, recursive=args.recursive)
    status = 0
    for r in results:
        if r.diagnostics:
            print_diagnostics(out, list(r.diagnostics), {}, None)
            status = 1
            continue
        if not r.changed:
            continue
        if args.list:
            out.raw(f"{_shown(r.path, base)}\n")
        if args.diff:
            out.raw(unified_diff(r, _shown(r.path, base)))
        if args.check:
            status = max(status, 3)
    if not args.check:
        write_changes([r for r in results if r.changed and not r.diagnostics])
    return status
