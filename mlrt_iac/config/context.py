"""What the evaluators of one evaluation share: the module instances, the expression
evaluator, diagnostics, and how an expression inside a module instance sees declared names.

Each kind of node has its own module (`variable_eval`, `modules`, `resources`, `evaluator` for
locals and outputs); they all take an `EvalContext` so that none of them is a method of one big
class.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..diagnostics import Diagnostics, SourceRange
from ..values import UNKNOWN
from . import ast as A
from .expr import Evaluator
from .instances import EvaluatedConfig, ResourceResolver, Settings
from .loader import RESOURCE_TYPES, Config, ModuleConfig, rng
from .nodes import NodeKey, Ref, key_str
from .scope import Scope
from .valueops import EvalError

# The resource instances a value depends on, with the range of the reference that brings each.
Deps = tuple[set[str], dict[str, SourceRange]]
_NO_REFS: list[Ref] = []


class ModuleInstance:
    """One instance of a module (the root, or one key of a module call's count/for_each)."""

    __slots__ = (
        "addr",
        "mc",
        "parent",
        "values",
        "deps",
        "failed",
        "res_addrs",
        "children",
        "child_mode",
        "pending_args",
    )

    def __init__(self, addr: str, mc: ModuleConfig, parent: ModuleInstance | None) -> None:
        self.addr = addr
        self.mc = mc
        self.parent = parent
        self.values: dict[tuple[str, str], Any] = {}  # (kind, name) -> value
        self.deps: dict[tuple[str, str], Deps] = {}
        self.failed: set[tuple[str, str]] = set()
        self.res_addrs: dict[str, list[str]] = {}  # "type.name" -> instance addresses
        self.children: dict[str, list[tuple[int | str | None, ModuleInstance]]] = {}
        self.child_mode: dict[str, str] = {}
        self.pending_args: dict[str, tuple[Any, Deps, bool]] = {}  # var -> (value, deps, failed)

    def prefix(self) -> str:
        return self.addr + "." if self.addr else ""


class EvalContext:
    """State of one evaluation; `refs` comes from the static graph (`graph/static.py`)."""

    def __init__(
        self,
        cfg: Config,
        inputs: Mapping[str, Any],
        resolver: ResourceResolver,
        diags: Diagnostics,
        refs: Mapping[NodeKey, list[Ref]],
        workspace: str = "default",
    ) -> None:
        self.cfg = cfg
        # `terraform.workspace` / `mlrt.workspace`: read at evaluation time, never parsed into
        # a cached AST, so one workspace's name cannot reach another's evaluation.
        self.workspace = workspace
        self.inputs = inputs
        self.resolver = resolver
        self.diags = diags
        self.refs = refs
        self.ev = Evaluator(cfg.root_dir)
        self.instances: dict[tuple[str, ...], list[ModuleInstance]] = {
            (): [ModuleInstance("", cfg.root, None)]
        }
        self.out = EvaluatedConfig()
        self.settings = Settings()

    def err(
        self, summary: str, detail: str, filename: str, pos: A.Pos4, related: Iterable[SourceRange] = ()
    ) -> None:
        self.diags.add_error(summary, detail, rng(filename, pos), related)

    def try_eval(self, e: A.Expr, scope: Scope, filename: str) -> tuple[Any, bool]:
        """Evaluate; on error report it once and return (UNKNOWN, True). The flag is also True
        when the expression read a value that failed earlier (so nothing cascades)."""
        self.ev.tainted = False
        try:
            v = self.ev.eval(e, scope)
        except EvalError as err:
            self.diags.add_error(err.summary, err.detail, rng(filename, err.pos or e.pos))
            return UNKNOWN, True
        return v, self.ev.tainted

    def scope_for(self, mi: ModuleInstance, extra: dict[str, Any] | None = None) -> Scope:
        """The scope of expressions in `mi`, with `extra` bindings (each, count)."""

        def resolve(t: A.Traversal) -> tuple[Any, int]:
            root = t.root
            steps = t.steps
            if root == "path":
                return {"module": str(mi.mc.dir), "root": str(self.cfg.root_dir), "cwd": os.getcwd()}, 0
            if root in ("terraform", "mlrt"):
                return {"workspace": self.workspace}, 0
            if root in ("var", "local"):
                kk = ("var" if root == "var" else "local", steps[0][1] if steps else "")
                if kk not in mi.values:
                    self.ev.tainted = True
                    return UNKNOWN, len(steps)
                if kk in mi.failed:
                    self.ev.tainted = True
                return mi.values[kk], 1
            if root == "module":
                name = str(steps[0][1]) if steps else ""
                if name not in mi.children:
                    self.ev.tainted = True
                    return UNKNOWN, len(steps)
                return module_value(mi, name), 1
            if root in RESOURCE_TYPES and steps:
                kk = ("res", f"{root}.{steps[0][1]}")
                if kk not in mi.values:
                    self.ev.tainted = True
                    return UNKNOWN, len(steps)
                if kk in mi.failed:
                    self.ev.tainted = True
                return mi.values[kk], 1
            self.ev.tainted = True  # an invalid reference, already reported
            return UNKNOWN, len(steps)

        return Scope(extra, None, resolve)

    def deps_of(self, mi: ModuleInstance, k: NodeKey, extra: list[Ref] | None = None) -> Deps:
        """The resource instances node `k` of `mi` depends on (through `extra` refs if given)."""
        addrs: set[str] = set()
        ranges: dict[str, SourceRange] = {}
        for t, target, filename in extra if extra is not None else self.refs.get(k, _NO_REFS):
            if target is None:
                continue
            tmp, kind, name = target
            r = rng(filename, t.pos)
            if kind == "res":
                found = mi.res_addrs.get(name, [])
                if len(t.steps) >= 2 and t.steps[1][0] == "i" and isinstance(t.steps[1][1], A.Literal):
                    want = f"{mi.prefix()}{name}{key_str(t.steps[1][1].value)}"
                    if want in found:
                        found = [want]
                for a in found:
                    if a not in ranges:
                        addrs.add(a)
                        ranges[a] = r
                continue
            if kind == "out":
                cname = tmp[-1]
                dsets = [c.deps.get(("out", name), (set(), {})) for _, c in mi.children.get(cname, [])]
            elif kind == "mod":
                dsets = []
                for _, c in mi.children.get(name, []):
                    dsets.extend(c.deps.get(("out", o), (set(), {})) for o in c.mc.outputs)
                    dsets.extend(_all_resources(c))
            else:
                dsets = [mi.deps.get((kind, name), (set(), {}))]
            for s, _ in dsets:
                for a in s:
                    if a not in ranges:
                        addrs.add(a)
                        ranges[a] = r
        return addrs, ranges


def module_value(mi: ModuleInstance, name: str) -> Any:
    """What `module.NAME` is in `mi`: the outputs of its one instance, a list (count) or a map."""
    kids = mi.children[name]
    mode = mi.child_mode[name]

    def outs(c: ModuleInstance) -> dict[str, Any]:
        return {o: c.values.get(("out", o), UNKNOWN) for o in c.mc.outputs}

    if mode == "single":
        return outs(kids[0][1]) if kids else UNKNOWN
    if mode == "count":
        return [outs(c) for _, c in kids]
    return {str(k): outs(c) for k, c in kids}


def _all_resources(mi: ModuleInstance) -> list[Deps]:
    out: list[Deps] = [(set(a for lst in mi.res_addrs.values() for a in lst), {})]
    for kids in mi.children.values():
        for _, c in kids:
            out.extend(_all_resources(c))
    return out
