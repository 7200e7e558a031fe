"""console: evaluate expressions against the configuration and the state, as `terraform console`.

Each line read from standard input is one expression, evaluated in the root module's scope:
variables, locals, module outputs and resources, whose attributes are what state recorded (what
does not exist yet is `(known after apply)`). Values print as Terraform prints them. Nothing is
written and no lock is taken. An expression that fails prints its error; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config.instances import ResourceInstance
from ..errors import DiagnosticsError
from ..graph.walk import ConsoleEvaluator
from ..model import computed_attributes
from ..values import UNKNOWN, Sensitive
from .console import Out
from .diagnostics_view import print_diagnostics
from .session import backend_for, open_project_for, read_state


def console_value(v: Any, indent: str = "") -> str:
    """One value as `terraform console` writes it (multi-line collections, HCL map syntax)."""
    if isinstance(v, Sensitive):
        return "(sensitive value)"
    if v is UNKNOWN:
        return "(known after apply)"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    inner = indent + "  "
    if isinstance(v, dict):
        if not v:
            return "{}"
        lines = [
            f"{inner}{json.dumps(str(k), ensure_ascii=False)} = {console_value(x, inner)}"
            for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))
        ]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    if isinstance(v, (list, tuple)):
        if not v:
            return "[]"
        return "[\n" + "".join(f"{inner}{console_value(x, inner)},\n" for x in v) + f"{indent}]"
    return str(v)


def cmd_console(args: argparse.Namespace, out: Out) -> int:
    project = open_project_for(args)
    doc = read_state(backend_for(project))

    def resolver(inst: ResourceInstance) -> dict[str, Any]:
        r = doc.get(inst.address)
        if r is not None:
            return {**r.attributes, "id": r.id}
        return {**inst.attributes, **{c: UNKNOWN for c in computed_attributes(inst.type)}}

    ev = ConsoleEvaluator(project.config, project.inputs, resolver, project.workspace)
    if ev.diags.has_errors:
        raise DiagnosticsError(ev.diags)
    interactive = sys.stdin.isatty()
    failed = False
    while True:
        if interactive:
            out.raw("> ")
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("exit", "quit"):
            break
        value, diags = ev.eval(text)
        if diags.has_errors:
            failed = True
            print_diagnostics(out, list(diags), {"<console>": text}, project.project_dir)
            continue
        out.raw(console_value(value) + "\n")
    return 1 if failed else 0
