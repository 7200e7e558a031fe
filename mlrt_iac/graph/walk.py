"""Evaluate a configuration: the static graph says which declarations to evaluate and in which
order, the config layer's `NodeEvaluator` evaluates each.

This is the one place that joins the two: `config/` may not import `graph/` (layer rule
cli -> apply -> plan -> graph -> model -> config), so the walk lives here and callers
(`plan/project.py`) call `graph.evaluate`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from typing import Any

from ..config.evaluator import NodeEvaluator, default_resolver
from ..config.instances import EvaluatedConfig, ResourceResolver
from ..config.loader import Config
from ..config.nodes import NodeKey
from ..config.references import iter_refs, resolve_reference
from ..diagnostics import Diagnostics
from .static import build_static_graph, report_cycles, settings_nodes
from .targets import keep_targeted, select_targets


def evaluate(
    config: Config,
    inputs: Mapping[str, Any],
    *,
    resolver: ResourceResolver | None = None,
    targets: Iterable[str] | None = None,
    settings_only: bool = False,
    workspace: str = "default",
) -> tuple[EvaluatedConfig, Diagnostics]:
    """Evaluate every block of a loaded configuration (or only what `targets` need).

    `settings_only` evaluates just the `mlrt { }` and `provider` blocks (and the variables and
    locals they may use): what a command needs to find its backend and providers, at a fraction
    of the cost of the whole configuration. `workspace` is what `terraform.workspace` and
    `mlrt.workspace` evaluate to.
    """
    diags = Diagnostics()
    wanted = list(targets) if targets is not None else None
    gc_was = gc.isenabled()
    gc.disable()  # tens of thousands of small objects, none cyclic: collections only cost time
    try:
        ev = NodeEvaluator(config, dict(inputs), resolver or default_resolver, diags, workspace)
        ev.eval_settings()
        sg = build_static_graph(config, diags)
        needed: set[NodeKey] | None = None
        found: list[str] = []
        if settings_only:
            needed = settings_nodes(sg)
        elif wanted:
            needed, found = select_targets(sg, wanted, diags)
        order, stuck = sg.graph.order(needed)
        if stuck:
            report_cycles(sg, stuck, diags)
        out = ev.run(order, stuck, sg.refs)
        if wanted:
            out.instances = keep_targeted(out.instances, found)
    finally:
        if gc_was:
            gc.enable()
    return out, diags


class ConsoleEvaluator:
    """Evaluates expressions typed at `mlrt console` in the root module's scope, after the whole
    configuration was evaluated with `resolver` (state's values for what exists)."""

    def __init__(
        self,
        config: Config,
        inputs: Mapping[str, Any],
        resolver: ResourceResolver | None = None,
        workspace: str = "default",
    ) -> None:
        self.diags = Diagnostics()
        self._ev = NodeEvaluator(config, dict(inputs), resolver or default_resolver, self.diags, workspace)
        self._ev.eval_settings()
        sg = build_static_graph(config, self.diags)
        order, stuck = sg.graph.order(None)
        if stuck:
            report_cycles(sg, stuck, self.diags)
        self.evaluated = self._ev.run(order, stuck, sg.refs)

    def eval(self, text: str) -> tuple[Any, Diagnostics]:
        """The value of one expression, or the diagnostics saying why there is none."""
        from ..config.parse_error import ParseError
        from ..config.parser import parse_expression

        diags = Diagnostics()
        try:
            expr = parse_expression(text)
        except ParseError as exc:
            diags.add_error(exc.summary, exc.detail)
            return None, diags
        return self.eval_expr(expr, "<console>", diags)

    def eval_expr(
        self, expr: Any, filename: str, diags: Diagnostics | None = None
    ) -> tuple[Any, Diagnostics]:
        """The value of a parsed expression written in `filename` of the root module."""
        diags = diags if diags is not None else Diagnostics()
        ctx = self._ev.ctx
        root = ctx.instances[()][0]
        for t in iter_refs(expr):
            resolve_reference(t, root.mc, filename, False, False, diags)
        if diags.has_errors:
            return None, diags
        saved, ctx.diags = ctx.diags, diags
        try:
            value, _ = ctx.try_eval(expr, ctx.scope_for(root), filename)
        finally:
            ctx.diags = saved
        return value, diags
