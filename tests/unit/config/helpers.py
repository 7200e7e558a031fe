"""Shared helpers: write HCL files into a temp dir and run the real loader/evaluator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlrt_iac.config import load_config
from mlrt_iac.config.expr import Evaluator, Scope
from mlrt_iac.config.parser import parse_expression
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.graph import evaluate


def write(d: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return d


def run(
    d: Path, files: dict[str, str], inputs: dict[str, Any] | None = None, **kw: Any
) -> tuple[Any, Diagnostics]:
    write(d, files)
    cfg, diags = load_config(d, cache_dir=d / ".cache")
    if diags.has_errors:
        return None, diags
    ev, d2 = evaluate(cfg, inputs or {}, **kw)
    diags.extend(d2)
    return ev, diags


def ev(text: str, variables: dict[str, Any] | None = None) -> Any:
    """Evaluate one expression with only local bindings (no config)."""
    return Evaluator(Path.cwd()).eval(parse_expression(text), Scope(dict(variables or {})))


def summaries(diags: Diagnostics) -> list[str]:
    return [d.summary for d in diags.errors()]
