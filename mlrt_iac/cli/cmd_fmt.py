"""fmt: HCL files rewritten in the canonical layout; needs the formatter, not the engine."""

from __future__ import annotations

import argparse

from ..config.fmt import format_paths, unified_diff, write_changes
from .console import Out
from .diagnostics_view import print_diagnostics
from .session import project_dir, resolve_file


def cmd_fmt(args: argparse.Namespace, out: Out) -> int:
    paths = [resolve_file(args, p) for p in args.paths] if args.paths else [project_dir(args)]
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
            out.raw(f"{r.path}\n")
        if args.diff:
            out.raw(unified_diff(r))
        if args.check:
            status = max(status, 3)
    if not args.check:
        write_changes([r for r in results if r.changed and not r.diagnostics])
    return status
