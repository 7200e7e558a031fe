"""Config -> EvaluatedConfig: a graph of named things (variables, locals, resources, module
calls, outputs) per module path, evaluated in topological order for every module instance.

Dependencies of each resource *instance* are tracked through locals, variables and module
outputs, so the graph layer gets instance-level edges with the range of each reference.
"""

from __future__ import annotations

import gc
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostics, SourceRange
from ..values import UNKNOWN, Sensitive
from . import ast as A
from .expr import Evaluator, Scope, iter_refs, suggest
from .instances import (
    BackendConfig,
    Lifecycle,
    OutputValue,
    ProviderConfig,
    ResourceInstance,
    ResourceResolver,
    Settings,
)
from .loader import RESOURCE_TYPES, Config, ModuleCall, ModuleConfig, ResourceBlock, rng
from .parser import ParseError, parse_expression
from .types import convert, type_str
from .valueops import EvalError, HclSet, ResourceRef, deep_sensitive, strip_marks, to_str, type_name

NodeKey = tuple[tuple[str, ...], str, str]  # (module path, kind, name); kind: var local res out mod
META_ATTRS = ("provider", "count", "for_each", "depends_on")
META_BLOCKS = ("lifecycle", "timeouts")
_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def default_resolver(inst: ResourceInstance) -> Mapping[str, Any]:
    """What expressions see for a resource before apply: its arguments, with `name` defaulting to the label."""
    out = dict(inst.attributes)
    if out.get("name") is None:
        out["name"] = inst.name
    return out


@dataclass
class EvaluatedConfig:
    instances: list[ResourceInstance] = field(default_factory=list)
    outputs: dict[str, OutputValue] = field(default_factory=dict)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)
    variables: dict[str, Any] = field(default_factory=dict)


def key_str(k: int | str) -> str:
    return f"[{k}]" if isinstance(k, int) else f"[{json.dumps(k)}]"


def node_name(n: NodeKey) -> str:
    mp, kind, name = n
    pre = "".join(f"module.{p}." for p in mp)
    return (
        pre
        + {
            "var": f"var.{name}",
            "local": f"local.{name}",
            "res": name,
            "out": f"output.{name}",
            "mod": f"module.{name}",
        }[kind]
    )


def parse_duration(s: str) -> float | None:
    pos = 0
    total = 0.0
    for m in _DUR_RE.finditer(s):
        if m.start() != pos:
            return None
        n = float(m.group(1))
        total += n * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and s else None


Deps = tuple[set[str], dict[str, SourceRange]]


class ModuleInstance:
    """One instance of a module (the root, or one key of a module call's count/for_each)."""

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


class _Run:
    def __init__(
        self, cfg: Config, inputs: dict[str, Any], resolver: ResourceResolver, diags: Diagnostics
    ) -> None:
        self.cfg = cfg
        self.inputs = inputs
        self.resolver = resolver
        self.diags = diags
        self.ev = Evaluator(cfg.root_dir)
        self.mods: dict[tuple[str, ...], ModuleConfig] = {m.path: m for m in cfg.modules()}
        self.instances: dict[tuple[str, ...], list[ModuleInstance]] = {
            (): [ModuleInstance("", cfg.root, None)]
        }
        self.refs: dict[NodeKey, list[tuple[A.Traversal, NodeKey | None, str]]] = {}
        self.edges: dict[NodeKey, dict[NodeKey, SourceRange]] = {}
        self.out = EvaluatedConfig()
        self.settings = Settings()

    # ---- static graph ---------------------------------------------------------------------

    def build_graph(self) -> None:
        for mc in self.mods.values():
            mp = mc.path
            for v in mc.variables.values():
                k: NodeKey = (mp, "var", v.name)
                self.edges[k] = {}
                self.refs[k] = []
                if mp:
                    self.edges[k][(mp[:-1], "mod", mp[-1])] = v.range
            for loc in mc.locals.values():
                self._add_node((mp, "local", loc.name), [loc.expr], loc.filename, mc, None)
            for rb in mc.resources.values():
                self._add_node((mp, "res", rb.key), [rb.block], rb.filename, mc, rb)
            for o in mc.outputs.values():
                k = (mp, "out", o.name)
                self._add_node(k, [x for x in (o.value, o.depends_on) if x is not None], o.filename, mc, None)
                if mp:
                    self.edges[k].setdefault((mp[:-1], "mod", mp[-1]), o.range)
            for call in mc.module_calls.values():
                exprs: list[Any] = [a.expr for a in call.args.values()]
                exprs += [a.expr for a in (call.count, call.for_each, call.depends_on) if a is not None]
                self._add_node(
                    (mp, "mod", call.name),
                    exprs,
                    call.filename,
                    mc,
                    None,
                    each_ok=call.for_each is not None,
                    count_ok=call.count is not None,
                )

    def _block_exprs(self, b: A.Block, out: list[A.Expr]) -> None:
        for a in b.attributes:
            if a.name != "provider":
                out.append(a.expr)
        for sub in b.blocks:
            if sub.type == "lifecycle":
                continue  # replace_triggered_by / ignore_changes are not value references
            self._block_exprs(sub, out)

    def _add_node(
        self,
        k: NodeKey,
        items: list[Any],
        filename: str,
        mc: ModuleConfig,
        rb: ResourceBlock | None,
        each_ok: bool = False,
        count_ok: bool = False,
    ) -> None:
        exprs: list[A.Expr] = []
        for it in items:
            if isinstance(it, A.Block):
                self._block_exprs(it, exprs)
            else:
                exprs.append(it)
        if rb is not None:
            names = {a.name for a in rb.block.attributes}
            each_ok, count_ok = "for_each" in names, "count" in names
        self.edges[k] = {}
        refs: list[tuple[A.Traversal, NodeKey | None, str]] = []
        for e in exprs:
            for t in iter_refs(e):
                target = self._resolve_static(t, mc, filename, each_ok, count_ok)
                if target is False:
                    continue
                if target is True:
                    continue
                refs.append((t, target, filename))
                if target is not None:
                    r = rng(filename, t.pos)
                    self.edges[k].setdefault(target, r)  # type: ignore[arg-type]
                    if target[1] == "mod" and target[0] == mc.path:  # depends_on = [module.m]: all of it
                        self._module_subtree_edges(k, mc.path + (target[2],), r)
        self.refs[k] = refs

    def _module_subtree_edges(self, k: NodeKey, child: tuple[str, ...], r: SourceRange) -> None:
        for mp, mc in self.mods.items():
            if mp[: len(child)] == child:
                for rk in mc.resources:
                    self.edges[k].setdefault((mp, "res", rk), r)
                for on in mc.outputs:
                    self.edges[k].setdefault((mp, "out", on), r)

    def _err(
        self, summary: str, detail: str, filename: str, pos: A.Pos4, related: Iterable[SourceRange] = ()
    ) -> None:
        self.diags.add_error(summary, detail, rng(filename, pos), related)

    def _resolve_static(
        self, t: A.Traversal, mc: ModuleConfig, filename: str, each_ok: bool, count_ok: bool
    ) -> NodeKey | None | bool:
        """The node a traversal refers to; None for context values; False when invalid (reported)."""
        root, steps, mp = t.root, t.steps, mc.path
        where = "the root module" if not mp else f"module.{'.module.'.join(mp)}"
        first = steps[0][1] if steps and steps[0][0] == "a" else None
        if root in ("var", "local", "module") and first is None:
            self._err(
                "Invalid reference",
                f'The "{root}" object cannot be accessed directly. Instead, access one'
                f" of its attributes, like {root}.NAME.",
                filename,
                t.pos,
            )
            return False
        if root == "var":
            if first not in mc.variables:
                self._err(
                    "Reference to undeclared input variable",
                    f'An input variable with the name "{first}" has not been declared in {where}.'
                    + suggest(str(first), mc.variables)
                    + f' Declare it with variable "{first}" {{}}.',
                    filename,
                    t.pos,
                )
                return False
            return (mp, "var", str(first))
        if root == "local":
            if first not in mc.locals:
                self._err(
                    "Reference to undeclared local value",
                    f'A local value with the name "{first}" has not been declared in {where}.'
                    + suggest(str(first), mc.locals),
                    filename,
                    t.pos,
                )
                return False
            return (mp, "local", str(first))
        if root == "module":
            call = mc.module_calls.get(str(first))
            if call is None:
                self._err(
                    "Reference to undeclared module",
                    f'No module call named "{first}" is declared in {where}.'
                    + suggest(str(first), mc.module_calls),
                    filename,
                    t.pos,
                )
                return False
            rest = steps[1:]
            if rest and rest[0][0] == "i":
                rest = rest[1:]
            if rest and rest[0][0] == "a" and call.child is not None:
                oname = rest[0][1]
                if oname not in call.child.outputs:
                    self._err(
                        "Unsupported attribute",
                        f'Module "{first}" has no output named "{oname}".'
                        + suggest(oname, call.child.outputs),
                        filename,
                        t.pos,
                    )
                    return False
                return (mp + (str(first),), "out", oname)
            return (mp, "mod", str(first))
        if root in RESOURCE_TYPES:
            if first is None:
                self._err(
                    "Invalid reference",
                    f"A reference to a resource type must be followed by at least one"
                    f" attribute access, specifying the resource name, like {root}.NAME.",
                    filename,
                    t.pos,
                )
                return False
            key = f"{root}.{first}"
            if key not in mc.resources:
                self._err(
                    "Reference to undeclared resource",
                    f'A {root} resource named "{first}" has not been declared in {where}.'
                    + suggest(key, mc.resources),
                    filename,
                    t.pos,
                )
                return False
            return (mp, "res", key)
        if root == "each":
            if not each_ok:
                self._err(
                    'Reference to "each" in context without for_each',
                    'The "each" object can be used only in "module" or resource blocks, and only when the'
                    ' "for_each" argument is set.',
                    filename,
                    t.pos,
                )
                return False
            return None
        if root == "count":
            if not count_ok:
                self._err(
                    'Reference to "count" in non-counted context',
                    'The "count" object can only be used in "module" and resource blocks when the "count"'
                    " argument is set.",
                    filename,
                    t.pos,
                )
                return False
            return None
        if root == "path":
            if first not in ("module", "root", "cwd"):
                self._err(
                    'Invalid "path" attribute',
                    'The "path" object has the attributes "module", "root" and "cwd".',
                    filename,
                    t.pos,
                )
                return False
            return None
        roots = ["var", "local", "module", "each", "count", "path", *RESOURCE_TYPES]
        if first is None:
            self._err(
                "Invalid reference",
                f'There is no variable named "{root}".' + suggest(root, roots),
                filename,
                t.pos,
            )
        else:
            self._err(
                "Reference to undeclared resource",
                f'A resource "{root}" "{first}" has not been declared in {where}, and "{root}" is not a'
                " resource type." + suggest(root, roots),
                filename,
                t.pos,
            )
        return False

    # ---- ordering -------------------------------------------------------------------------

    def order(self, needed: set[NodeKey] | None) -> tuple[list[NodeKey], set[NodeKey]]:
        nodes = [k for k in self.edges if needed is None or k in needed]
        nodeset = set(nodes)
        indeg = {k: 0 for k in nodes}
        rdeps: dict[NodeKey, list[NodeKey]] = {k: [] for k in nodes}
        for k in nodes:
            for d in self.edges[k]:
                if d in nodeset and d != k:
                    indeg[k] += 1
                    rdeps[d].append(k)
        ready = [k for k in nodes if indeg[k] == 0 and k not in self.edges[k]]
        out: list[NodeKey] = []
        i = 0
        while i < len(ready):
            k = ready[i]
            i += 1
            out.append(k)
            for r in rdeps[k]:
                indeg[r] -= 1
                if indeg[r] == 0 and r not in self.edges[r]:
                    ready.append(r)
        stuck = nodeset - set(out)
        if stuck:
            self.report_cycles(stuck)
        return out, stuck

    def report_cycles(self, stuck: set[NodeKey]) -> None:
        import networkx as nx

        g = nx.DiGraph()
        for k in stuck:
            for d in self.edges[k]:
                if d in stuck:
                    g.add_edge(k, d)
        for comp in nx.strongly_connected_components(g):
            if len(comp) == 1:
                (only,) = comp
                if not g.has_edge(only, only):
                    continue
            cyc = nx.find_cycle(g.subgraph(comp))
            path = [e[0] for e in cyc] + [cyc[0][0]]
            names = " -> ".join(node_name(n) for n in path)
            related = [self.edges[a][b] for a, b in zip(path, path[1:])]
            self.diags.add_error(
                f"Cycle: {names}",
                "These blocks refer to each other in a loop, so none can be evaluated first."
                " Break the cycle by removing one of the references (each is shown below).",
                related[0],
                related,
            )

    # ---- evaluation -----------------------------------------------------------------------

    def run(self, targets: list[str] | None, settings_only: bool = False) -> EvaluatedConfig:
        self.eval_settings()
        self.build_graph()
        needed: set[NodeKey] | None = None
        target_addrs: list[str] = []
        if settings_only:
            needed = self.settings_closure()
        elif targets:
            needed, target_addrs = self.targets_closure(targets)
        order, stuck = self.order(needed)
        for mi_list in self.instances.values():
            for mi in mi_list:
                for k in stuck:
                    if k[0] == mi.mc.path:
                        mi.failed.add((k[1], k[2]))
        for k in order:
            mp, kind, name = k
            for mi in self.instances.get(mp, []):
                getattr(self, "eval_" + kind)(mi, k)
        self.eval_providers()
        self.out.settings = self.settings
        if targets:
            self.filter_targets(target_addrs)
        return self.out

    def scope_for(self, mi: ModuleInstance, extra: dict[str, Any] | None = None) -> Scope:
        def resolve(t: A.Traversal) -> tuple[Any, int]:
            root = t.root
            steps = t.steps
            if root == "path":
                return {"module": str(mi.mc.dir), "root": str(self.cfg.root_dir), "cwd": os.getcwd()}, 0
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
                return self.module_value(mi, name), 1
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

    def module_value(self, mi: ModuleInstance, name: str) -> Any:
        kids = mi.children[name]
        mode = mi.child_mode[name]

        def outs(c: ModuleInstance) -> dict[str, Any]:
            return {o: c.values.get(("out", o), UNKNOWN) for o in c.mc.outputs}

        if mode == "single":
            return outs(kids[0][1]) if kids else UNKNOWN
        if mode == "count":
            return [outs(c) for _, c in kids]
        return {str(k): outs(c) for k, c in kids}

    def deps_of(
        self,
        mi: ModuleInstance,
        k: NodeKey,
        extra: list[tuple[A.Traversal, NodeKey | None, str]] | None = None,
    ) -> Deps:
        addrs: set[str] = set()
        ranges: dict[str, SourceRange] = {}
        for t, target, filename in extra if extra is not None else self.refs.get(k, []):
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
                new = found
                for a in new:
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
                    dsets.extend(self.all_resources(c))
            else:
                dsets = [mi.deps.get((kind, name), (set(), {}))]
            for s, _ in dsets:
                for a in s:
                    if a not in ranges:
                        addrs.add(a)
                        ranges[a] = r
        return addrs, ranges

    def all_resources(self, mi: ModuleInstance) -> list[Deps]:
        out: list[Deps] = [(set(a for lst in mi.res_addrs.values() for a in lst), {})]
        for kids in mi.children.values():
            for _, c in kids:
                out.extend(self.all_resources(c))
        return out

    def try_eval(self, e: A.Expr, scope: Scope, filename: str) -> tuple[Any, bool]:
        """Evaluate; on error report it once and return (UNKNOWN, True)."""
        self.ev.tainted = False
        try:
            v = self.ev.eval(e, scope)
        except EvalError as err:
            self.diags.add_error(err.summary, err.detail, rng(filename, err.pos or e.pos))
            return UNKNOWN, True
        return v, self.ev.tainted

    # -- variables --

    def eval_var(self, mi: ModuleInstance, k: NodeKey) -> None:
        decl = mi.mc.variables[k[2]]
        kk = ("var", decl.name)
        failed = False
        deps: Deps = (set(), {})
        where = f"var.{decl.name}" if not mi.addr else f"{mi.addr}.var.{decl.name}"
        has_value = False
        value: Any = None
        if not mi.mc.path:
            if decl.name in self.inputs:
                value, has_value = self.inputs[decl.name], True
                if (
                    isinstance(value, str)
                    and decl.type is not None
                    and decl.type[0] not in ("string", "number", "bool", "any")
                ):
                    try:
                        value = self.ev.eval(parse_expression(value), Scope())
                    except (ParseError, EvalError) as e:
                        self.diags.add_error(
                            "Invalid value for input variable",
                            f"The value given for {where} is not valid HCL for type"
                            f" {type_str(decl.type)}: {getattr(e, 'detail', e)}",
                            decl.range,
                        )
                        failed = True
        elif decl.name in mi.pending_args:
            value, deps, failed = mi.pending_args[decl.name]
            has_value = True
        if has_value and value is None and not decl.nullable:
            has_value = False
        if not has_value and not failed:
            if decl.default is None:
                self.diags.add_error(
                    "No value for required variable",
                    f'The variable "{decl.name}" is required but has no value. Set it with'
                    f" -var {decl.name}=VALUE, a -var-file, MLRT_VAR_{decl.name}, or give it a default."
                    if not mi.mc.path
                    else f'The input variable "{decl.name}" of {mi.addr} is required but has no value.',
                    decl.range,
                )
                failed = True
            else:
                value, bad = self.try_eval(decl.default, Scope(), decl.filename)
                failed = failed or bad
                if not bad and value is None and not decl.nullable:
                    self.diags.add_error(
                        "Invalid default value for variable",
                        f"The default of {where} is null, but the variable is not nullable.",
                        decl.range,
                    )
                    failed = True
        if not failed and decl.type is not None:
            try:
                value = convert(value, decl.type)
            except EvalError as e:
                self.diags.add_error(
                    "Invalid value for input variable",
                    f"The given value is not suitable for {where} declared at {decl.filename} line"
                    f" {decl.range.start.line}: {e.detail} Expected type: {type_str(decl.type)}.",
                    decl.range,
                )
                failed = True
        if not failed and value is not UNKNOWN:
            for cond, msg in decl.validations:
                sc = Scope({"var": {decl.name: value}})
                ok, bad = self.try_eval(cond, sc, decl.filename)
                ok = strip_marks(ok)
                if bad or ok is UNKNOWN:
                    continue
                if ok is not True and ok is not False:
                    self.diags.add_error(
                        "Invalid variable validation result",
                        f"The validation condition for {where} must be a bool, got {type_name(ok)}.",
                        rng(decl.filename, cond.pos),
                    )
                    continue
                if not ok:
                    text = "The value failed this validation rule."
                    if msg is not None:
                        m, _ = self.try_eval(msg, sc, decl.filename)
                        if isinstance(m, str):
                            text = m
                    self.diags.add_error(
                        "Invalid value for variable",
                        f"{text}\n\nThis was checked by the validation rule at {decl.filename} line"
                        f" {cond.pos[0]}.",
                        rng(decl.filename, cond.pos),
                        [decl.range],
                    )
                    failed = True
        if failed:
            value = UNKNOWN
            mi.failed.add(kk)
        if decl.sensitive and value is not UNKNOWN and value is not None:
            value = Sensitive(value)
        mi.values[kk] = value
        mi.deps[kk] = deps
        if not mi.mc.path:
            self.out.variables[decl.name] = value

    def eval_local(self, mi: ModuleInstance, k: NodeKey) -> None:
        decl = mi.mc.locals[k[2]]
        v, bad = self.try_eval(decl.expr, self.scope_for(mi), decl.filename)
        kk = ("local", decl.name)
        mi.values[kk] = v
        mi.deps[kk] = self.deps_of(mi, k)
        if bad:
            mi.failed.add(kk)

    def eval_out(self, mi: ModuleInstance, k: NodeKey) -> None:
        decl = mi.mc.outputs[k[2]]
        kk = ("out", decl.name)
        mi.deps[kk] = self.deps_of(mi, k)
        if decl.value is None:
            mi.values[kk] = UNKNOWN
            mi.failed.add(kk)
            return
        v, bad = self.try_eval(decl.value, self.scope_for(mi), decl.filename)
        if not bad and not decl.sensitive and deep_sensitive(v):
            self.diags.add_error(
                "Output refers to sensitive values",
                "To reduce the risk of accidentally exporting sensitive data, an output that"
                " contains sensitive values must be marked as such: add sensitive = true to"
                f' output "{decl.name}".',
                decl.range,
            )
            bad = True
        if bad:
            mi.failed.add(kk)
        if decl.sensitive and v is not UNKNOWN and mi.mc.path:
            v = Sensitive(v)
        mi.values[kk] = v
        if not mi.mc.path:
            self.out.outputs[decl.name] = OutputValue(
                decl.name, v, decl.sensitive, decl.description, decl.range
            )

    # -- expansion (count / for_each) --

    def expand(
        self,
        mi: ModuleInstance,
        count: A.Attribute | None,
        for_each: A.Attribute | None,
        filename: str,
        what: str,
    ) -> tuple[str, list[tuple[int | str | None, dict[str, Any]]]] | None:
        scope = self.scope_for(mi)
        if count is not None:
            v, bad = self.try_eval(count.expr, scope, filename)
            if bad:
                return None
            v = strip_marks(v)
            if v is UNKNOWN:
                self.diags.add_error(
                    "Invalid count argument",
                    f'The "count" value of {what} depends on values that cannot be determined until'
                    " apply, so mlrt cannot predict how many instances will be created. To work"
                    " around this, use -target to apply the resource it depends on first.",
                    rng(filename, count.expr.pos),
                )
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or int(v) != v:
                self.diags.add_error(
                    "Invalid count argument",
                    f"The count argument must be a whole number of zero or more, got {type_name(v)} {v!r}.",
                    rng(filename, count.expr.pos),
                )
                return None
            return "count", [(i, {"count": {"index": i}}) for i in range(int(v))]
        if for_each is not None:
            v, bad = self.try_eval(for_each.expr, scope, filename)
            if bad:
                return None
            if isinstance(v, Sensitive):
                self.diags.add_error(
                    "Invalid for_each argument",
                    "Sensitive values, or values derived from sensitive values, cannot be used as"
                    " for_each arguments: the keys would be shown in every address.",
                    rng(filename, for_each.expr.pos),
                )
                return None
            if (
                v is UNKNOWN
                or (isinstance(v, list) and any(x is UNKNOWN for x in v))
                or (isinstance(v, dict) and False)
            ):
                self.diags.add_error(
                    "Invalid for_each argument",
                    f'The "for_each" value of {what} depends on resource attributes that cannot be'
                    " determined until apply, so mlrt cannot predict how many instances will be"
                    " created. The value is known only after apply; use -target to apply the"
                    " resource it depends on first.",
                    rng(filename, for_each.expr.pos),
                )
                return None
            if isinstance(v, dict):
                return "for_each", [
                    (str(kk), {"each": {"key": str(kk), "value": vv}}) for kk, vv in sorted(v.items())
                ]
            if isinstance(v, HclSet) and all(isinstance(x, str) for x in v):
                return "for_each", [(x, {"each": {"key": x, "value": x}}) for x in v]
            kind = "set of " + type_name(v[0]) if isinstance(v, HclSet) and v else type_name(v)
            self.diags.add_error(
                "Invalid for_each argument",
                'The given "for_each" argument value is unsuitable: the "for_each" argument must be'
                f" a map, or set of strings, and you have provided a value of type {kind}."
                + (" Convert a list with toset()." if type_name(v) == "tuple" else ""),
                rng(filename, for_each.expr.pos),
            )
            return None
        return "single", [(None, {})]

    # -- module calls --

    def eval_mod(self, mi: ModuleInstance, k: NodeKey) -> None:
        call: ModuleCall = mi.mc.module_calls[k[2]]
        mi.children[call.name] = []
        mi.child_mode[call.name] = "single"
        kk = ("mod", call.name)
        mi.deps[kk] = self.deps_of(mi, k)
        if call.child is None:
            mi.failed.add(kk)
            return
        what = f"{mi.prefix()}module.{call.name}"
        exp = self.expand(mi, call.count, call.for_each, call.filename, what)
        if exp is None:
            mi.failed.add(kk)
            return
        mode, keys = exp
        mi.child_mode[call.name] = mode
        lst = self.instances.setdefault(mi.mc.path + (call.name,), [])
        for key, extra in keys:
            addr = f"{mi.prefix()}module.{call.name}" + ("" if key is None else key_str(key))
            child = ModuleInstance(addr, call.child, mi)
            scope = self.scope_for(mi, extra)
            for an, a in call.args.items():
                if an not in call.child.variables:
                    continue
                v, bad = self.try_eval(a.expr, scope, call.filename)
                refs = [
                    (t, tg, call.filename) for t in iter_refs(a.expr) for tt, tg, _ in self.refs[k] if tt is t
                ]
                child.pending_args[an] = (v, self.deps_of(mi, k, refs), bad)
            mi.children[call.name].append((key, child))
            lst.append(child)

    # -- resources --

    def eval_res(self, mi: ModuleInstance, k: NodeKey) -> None:
        rb: ResourceBlock = mi.mc.resources[k[2]]
        b = rb.block
        fn = rb.filename
        kk = ("res", rb.key)
        attrs = {a.name: a for a in b.attributes}
        base = f"{mi.prefix()}{rb.key}"
        mi.res_addrs[rb.key] = []
        if "count" in attrs and "for_each" in attrs:
            self._err(
                'Invalid combination of "count" and "for_each"',
                'The "count" and "for_each" meta-arguments are mutually exclusive; only one should be used.',
                fn,
                attrs["for_each"].pos,
            )
        exp = self.expand(
            mi, attrs.get("count"), attrs.get("for_each") if "count" not in attrs else None, fn, base
        )
        deps = self.deps_of(mi, k)
        mi.deps[kk] = deps
        if exp is None:
            mi.values[kk] = UNKNOWN
            mi.failed.add(kk)
            return
        mode, keys = exp
        provider, explicit = self.provider_of(b, fn)
        lifecycle = self.lifecycle_of(b, fn, mi)
        timeouts = self.timeouts_of(b, fn)
        vals: list[tuple[int | str | None, Any]] = []
        for key, extra in keys:
            addr = base + ("" if key is None else key_str(key))
            scope = self.scope_for(mi, extra)
            values, ranges = self.eval_body(b, scope, fn, "", top=True)
            inst = ResourceInstance(
                address=addr,
                type=rb.type,
                name=rb.name,
                index_key=key,
                module_address=mi.addr,
                provider=provider,
                attributes=values,
                range=rb.range,
                attribute_ranges=ranges,
                depends_on=set(deps[0]) - {addr},
                dependency_ranges={a: r for a, r in deps[1].items() if a != addr},
                lifecycle=lifecycle,
                timeouts=timeouts,
                provider_explicit=explicit,
            )
            self.out.instances.append(inst)
            mi.res_addrs[rb.key].append(addr)
            seen = dict(self.resolver(inst))
            if seen.get("name") is None:
                seen["name"] = values.get("name") if values.get("name") is not None else rb.name
            vals.append((key, ResourceRef(addr, seen)))
        if mode == "single":
            mi.values[kk] = vals[0][1]
        elif mode == "count":
            mi.values[kk] = [v for _, v in vals]
        else:
            mi.values[kk] = {str(kx): v for kx, v in vals}

    def eval_body(
        self, b: A.Block, scope: Scope, fn: str, prefix: str, top: bool
    ) -> tuple[dict[str, Any], dict[str, SourceRange]]:
        values: dict[str, Any] = {}
        ranges: dict[str, SourceRange] = {}
        for a in b.attributes:
            if top and a.name in META_ATTRS:
                continue
            if a.name in values:
                self._err("Duplicate argument", f'The argument "{a.name}" was already set.', fn, a.pos)
                continue
            v, _ = self.try_eval(a.expr, scope, fn)
            values[a.name] = v
            ranges[prefix + a.name] = rng(fn, a.pos)
        for sub in b.blocks:
            if top and sub.type in META_BLOCKS:
                continue
            path = prefix + sub.type + "".join("." + lb for lb in sub.labels)
            sv, sr = self.eval_body(sub, scope, fn, path + ".", top=False)
            ranges.update(sr)
            ranges[path] = rng(fn, sub.pos)
            if sub.labels:
                slot = values.setdefault(sub.type, {})
                if not isinstance(slot, dict):
                    self._err(
                        "Duplicate argument",
                        f'"{sub.type}" is set both as an argument and as a block.',
                        fn,
                        sub.pos,
                    )
                    continue
                for lb in sub.labels[:-1]:
                    slot = slot.setdefault(lb, {})
                if sub.labels[-1] in slot:
                    self._err(
                        "Duplicate block",
                        f'A {sub.type} block labelled "{".".join(sub.labels)}" was already'
                        " declared in this block.",
                        fn,
                        sub.pos,
                    )
                slot[sub.labels[-1]] = sv
            elif sub.type in values:
                prev = values[sub.type]
                values[sub.type] = (prev if isinstance(prev, list) else [prev]) + [sv]
            else:
                values[sub.type] = sv
        return values, ranges

    def provider_of(self, b: A.Block, fn: str) -> tuple[str, bool]:
        for a in b.attributes:
            if a.name == "provider":
                e = a.expr
                if isinstance(e, A.Traversal) and len(e.steps) <= 1 and all(s[0] == "a" for s in e.steps):
                    key = e.root + ("." + e.steps[0][1] if e.steps else "")
                    if e.steps and key not in self.declared_providers():
                        self._err(
                            "Provider configuration not present",
                            f'The provider configuration "{key}" is not declared. Add provider "{e.root}"'
                            f' {{ alias = "{e.steps[0][1]}" }} to the root module.',
                            fn,
                            a.pos,
                        )
                    return key, True
                self._err(
                    "Invalid provider reference",
                    "The provider argument takes a provider name and an optional alias, like ray or ray.big"
                    " (not a string).",
                    fn,
                    e.pos,
                )
                return self.settings.default_provider, True
        return self.settings.default_provider, False

    def declared_providers(self) -> set[str]:
        out = set()
        for blk, _ in self.cfg.root.providers:
            alias = next(
                (a.expr.value for a in blk.attributes if a.name == "alias" and isinstance(a.expr, A.Literal)),
                None,
            )
            out.add(blk.labels[0] + (f".{alias}" if alias else ""))
        return out

    def lifecycle_of(self, b: A.Block, fn: str, mi: ModuleInstance) -> Lifecycle:
        lc = [s for s in b.blocks if s.type == "lifecycle"]
        if not lc:
            return Lifecycle()
        blk = lc[0]
        opts: dict[str, Any] = {}
        for a in blk.attributes:
            if a.name in ("prevent_destroy", "create_before_destroy"):
                v, bad = self.try_eval(a.expr, Scope(), fn)
                if not bad and not isinstance(v, bool):
                    self._err("Invalid value", f'"{a.name}" must be true or false.', fn, a.pos)
                elif not bad:
                    opts[a.name] = v
            elif a.name == "ignore_changes":
                e = a.expr
                if isinstance(e, A.Traversal) and e.root == "all" and not e.steps:
                    opts[a.name] = ("*",)
                elif isinstance(e, A.TupleExpr) and all(isinstance(x, A.Traversal) for x in e.items):
                    opts[a.name] = tuple(self.traversal_text(x, None) for x in e.items)  # type: ignore[arg-type]
                else:
                    self._err(
                        "Invalid ignore_changes",
                        "ignore_changes takes a list of attribute names, like"
                        " [comment, scaling.num_nodes], or the keyword all.",
                        fn,
                        e.pos,
                    )
            elif a.name == "replace_triggered_by":
                e = a.expr
                if isinstance(e, A.TupleExpr) and all(
                    isinstance(x, A.Traversal) and x.root in RESOURCE_TYPES for x in e.items
                ):
                    opts[a.name] = tuple(
                        mi.prefix() + self.traversal_text(x, self.scope_for(mi))  # type: ignore
                        for x in e.items
                    )
                else:
                    self._err(
                        "Invalid replace_triggered_by",
                        "replace_triggered_by takes a list of resource"
                        " references, like [training.t] or [training.t.model_uri].",
                        fn,
                        e.pos,
                    )
            else:
                self._err(
                    "Unsupported argument",
                    f'An argument named "{a.name}" is not expected in a lifecycle'
                    " block."
                    + suggest(
                        a.name,
                        (
                            "prevent_destroy",
                            "create_before_destroy",
                            "ignore_changes",
                            "replace_triggered_by",
                        ),
                    ),
                    fn,
                    a.pos,
                )
        return Lifecycle(**opts)

    def traversal_text(self, t: A.Traversal, scope: Scope | None) -> str:
        out = t.root
        for kind, arg in t.steps:
            if kind == "a":
                out += "." + arg
            elif isinstance(arg, A.Literal):
                out += key_str(arg.value)
            elif scope is not None:
                try:
                    v = strip_marks(self.ev.eval(arg, scope))
                    out += key_str(v if isinstance(v, (int, str)) else to_str(v))
                except EvalError:
                    out += "[*]"
            else:
                out += "[*]"
        return out

    def timeouts_of(self, b: A.Block, fn: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for blk in b.blocks:
            if blk.type != "timeouts":
                continue
            for a in blk.attributes:
                if a.name not in ("create", "update", "delete"):
                    self._err(
                        "Unsupported argument",
                        f'An argument named "{a.name}" is not expected in a timeouts'
                        " block; use create, update or delete.",
                        fn,
                        a.pos,
                    )
                    continue
                v, bad = self.try_eval(a.expr, Scope(), fn)
                secs = parse_duration(v) if isinstance(v, str) else None
                if secs is None:
                    if not bad:
                        self._err(
                            "Invalid duration",
                            f'"{a.name}" must be a duration like "30s", "10m" or "1h30m".',
                            fn,
                            a.expr.pos,
                        )
                    continue
                out[a.name] = secs
        return out

    # ---- settings and providers ------------------------------------------------------------

    def eval_settings(self) -> None:
        sb = self.cfg.root.settings
        if sb is None:
            return
        blk, fn = sb
        s = Settings(range=rng(fn, blk.pos))
        for a in blk.attributes:
            if a.name == "default_provider":
                v, bad = self.try_eval(a.expr, Scope(), fn)
                if isinstance(v, str):
                    s.default_provider = v
                elif not bad:
                    self._err(
                        "Invalid value",
                        'default_provider must be a provider name string, like "ray".',
                        fn,
                        a.pos,
                    )
            else:
                self._err(
                    "Unsupported argument",
                    f'An argument named "{a.name}" is not expected in the mlrt block.'
                    + suggest(a.name, ("default_provider",)),
                    fn,
                    a.pos,
                )
        for sub in blk.blocks:
            if sub.type == "required_providers" and not sub.labels:
                vals, _ = self.eval_body(sub, Scope(), fn, "", top=False)
                s.required_providers = vals
            elif sub.type == "backend" and len(sub.labels) == 1:
                vals, _ = self.eval_body(sub, Scope(), fn, "", top=False)
                s.backend = BackendConfig(sub.labels[0], vals, rng(fn, sub.pos))
            else:
                self._err(
                    "Unsupported block type",
                    f'Blocks of type "{sub.type}" are not expected in the mlrt block;'
                    ' use required_providers { } or backend "TYPE" { }.',
                    fn,
                    sub.pos,
                )
        self.settings = s

    def eval_providers(self) -> None:
        root = self.instances[()][0]
        for blk, fn in self.cfg.root.providers:
            scope = self.scope_for(root)
            vals, _ = self.eval_body(blk, scope, fn, "", top=False)
            alias = vals.pop("alias", None)
            if alias is not None and not isinstance(alias, str):
                self._err("Invalid alias", "alias must be a string.", fn, blk.pos)
                alias = None
            pc = ProviderConfig(blk.labels[0], alias, vals, rng(fn, blk.pos))
            if pc.key in self.out.providers:
                prev = self.out.providers[pc.key]
                self.diags.add_error(
                    "Duplicate provider configuration",
                    f'A provider configuration "{pc.key}" was already given at {prev.range.filename}'
                    f" line {prev.range.start.line}. Give one of them an alias.",
                    pc.range,
                    [prev.range],
                )
                continue
            self.out.providers[pc.key] = pc

    def settings_closure(self) -> set[NodeKey]:
        """Root variables, and root locals that need nothing but variables and locals: what
        the `mlrt { }` and `provider` blocks may refer to."""
        ok: dict[NodeKey, bool] = {}

        def plain(k: NodeKey, seen: frozenset[NodeKey] = frozenset()) -> bool:
            if k in ok:
                return ok[k]
            if k[0] != () or k[1] not in ("var", "local") or k in seen:
                return False
            res = all(plain(d, seen | {k}) for d in self.edges.get(k, {}))
            ok[k] = res
            return res

        return {k for k in self.edges if plain(k)}

    # ---- targets --------------------------------------------------------------------------

    def targets_closure(self, targets: list[str]) -> tuple[set[NodeKey], list[str]]:
        roots: set[NodeKey] = set()
        addrs: list[str] = []
        for t in targets:
            parsed = parse_address(t)
            if parsed is None:
                self.diags.add_error(
                    "Invalid target address",
                    f'"{t}" is not a resource or module address, like'
                    ' training.t, compute_pool.p[0] or module.team["a"].service.s.',
                )
                continue
            mp, res = parsed
            found = False
            for k in self.edges:
                if k[1] == "res" and (
                    k[0] == mp and (res is None or k[2] == res) or res is None and k[0][: len(mp)] == mp
                ):
                    roots.add(k)
                    found = True
            if not found:
                self.diags.add_error("Invalid target", f'No resource in the configuration matches "{t}".')
                continue
            addrs.append(t)
        needed: set[NodeKey] = set()
        stack = list(roots)
        while stack:
            k = stack.pop()
            if k in needed:
                continue
            needed.add(k)
            stack.extend(self.edges.get(k, {}))
            if k[0]:  # a node inside a module needs the module call (expansion)
                stack.append((k[0][:-1], "mod", k[0][-1]))
        # outputs whose every dependency is evaluated come along
        for k, deps in self.edges.items():
            if k[1] == "out" and all(d in needed or d[1] == "out" for d in deps):
                needed.add(k)
        return needed, addrs

    def filter_targets(self, targets: list[str]) -> None:
        by_addr = {i.address: i for i in self.out.instances}
        keep: set[str] = set()
        stack = [a for a, i in by_addr.items() if any(_addr_matches(t, i) for t in targets)]
        while stack:
            a = stack.pop()
            if a in keep:
                continue
            keep.add(a)
            stack.extend(by_addr[a].depends_on if a in by_addr else ())
        self.out.instances = [i for i in self.out.instances if i.address in keep]


_ADDR_RE = re.compile(
    r'\s*(module\.)?([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?(\[(?:\d+|"(?:[^"\\]|\\.)*")\])?\s*'
)


def parse_address(addr: str) -> tuple[tuple[str, ...], str | None] | None:
    """`module.a["x"].training.t[0]` -> (("a",), "training.t"); `module.a` -> (("a",), None)."""
    mp: list[str] = []
    rest = addr.strip()
    while rest.startswith("module."):
        m = re.match(r'module\.([A-Za-z_][\w-]*)(\[(?:\d+|"(?:[^"\\]|\\.)*")\])?\.?', rest)
        if not m:
            return None
        mp.append(m.group(1))
        rest = rest[m.end() :]
    if not rest:
        return (tuple(mp), None) if mp else None
    m = re.fullmatch(r'([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)(\[(?:\d+|"(?:[^"\\]|\\.)*")\])?', rest)
    if not m or m.group(1) not in RESOURCE_TYPES:
        return None
    return tuple(mp), f"{m.group(1)}.{m.group(2)}"


def _addr_matches(target: str, inst: ResourceInstance) -> bool:
    t = target.strip()
    if t == inst.address or t == inst.block_address:
        return True
    return inst.address.startswith(t + ".") or inst.address.startswith(t + "[")


def evaluate(
    config: Config,
    inputs: dict[str, Any],
    *,
    resolver: ResourceResolver | None = None,
    targets: Iterable[str] | None = None,
    settings_only: bool = False,
) -> tuple[EvaluatedConfig, Diagnostics]:
    """Evaluate every block of a loaded configuration (or only what `targets` need).

    `settings_only` evaluates just the `mlrt { }` and `provider` blocks (and the variables and
    locals they may use): what a command needs to find its backend and providers, at a fraction
    of the cost of the whole configuration.
    """
    diags = Diagnostics()
    run = _Run(config, dict(inputs), resolver or default_resolver, diags)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        out = run.run(list(targets) if targets is not None else None, settings_only)
    finally:
        if gc_was:
            gc.enable()
    return out, diags


__all__ = ["EvaluatedConfig", "evaluate", "default_resolver", "parse_address", "parse_duration"]
