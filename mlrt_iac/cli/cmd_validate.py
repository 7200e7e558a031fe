"""validate: the configuration checked without state or provider calls.

Its own module so that it imports only the evaluator and the models, not the planner, the
apply engine or the state backends.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from ..errors import DiagnosticsError
from ..plan.project import validate_project
from .console import Out
from .diagnostics_view import diagnostics_json, print_diagnostics
from .session import open_project_for, project_dir


def cmd_validate(args: argparse.Namespace, out: Out) -> int:
    sources: Mapping[str, str]
    try:
        project = open_project_for(args)
        _, _, diags = validate_project(project)
        sources = project.config.sources
    except DiagnosticsError as exc:
        diags, sources = exc.diagnostics, exc.sources
        project = None
    if out.json_mode:
        out.json(diagnostics_json(diags))
        return 1 if diags.has_errors else 0
    print_diagnostics(out, diags, sources, project_dir(args))
    if diags.has_errors:
        return 1
    out.print("[bold green]Success![/] The configuration is valid.")
    return 0
