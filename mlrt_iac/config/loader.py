"""Directory -> `Config`: read every *.hcl file, parse (through the cache), sort blocks into
declarations, load child modules from local paths, and report structural problems (syntax,
encoding, unknown block types, duplicates) as diagnostics."""

from __future__ import annotations

import difflib
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..addrs import Address
from ..diagnostics import Diagnostics, Pos, SourceRange
from . import ast as A
from .cache import ParseCache
from .parse_error import ParseError
from .types import TypeSpec, parse_type
from .valueops import EvalError

RESOURCE_TYPES = (
    "compute_pool",
    "image_repository",
    "network_rule",
    "external_access_integration",
    "training",
    "service",
)
BLOCK_TYPES = (
    "mlrt",
    "provider",
    "variable",
    "locals",
    "output",
    "module",
    "moved",
    "removed",
    "check",
    "import",
) + RESOURCE_TYPES
_LABELS = {
    "mlrt": 0,
    "locals": 0,
    "provider": 1,
    "variable": 1,
    "output": 1,
    "module": 1,
    "moved": 0,
    "removed": 0,
    "check": 1,
    "import": 0,
}
MAX_MODULE_DEPTH = 16


def _source_text(text: str, pos: A.Pos4) -> str:
    """The characters of `text` that `pos` (1-based lines and columns, end exclusive) spans."""
    lines = text.splitlines()
    l1, c1, l2, c2 = pos
    if l1 == l2:
        return lines[l1 - 1][c1 - 1 : c2 - 1]
    return "\n".join([lines[l1 - 1][c1 - 1 :], *lines[l1 : l2 - 1], lines[l2 - 1][: c2 - 1]])


def rng(filename: str, pos: A.Pos4) -> SourceRange:
    return SourceRange(filename, Pos(pos[0], pos[1]), Pos(pos[2], pos[3]))


@dataclass
class VariableDecl:
    name: str
    type: TypeSpec | None
    default: A.Expr | None
    description: str
    sensitive: bool
    nullable: bool
    validations: list[tuple[A.Expr, A.Expr | None]]
    range: SourceRange
    filename: str


@dataclass
class LocalDecl:
    name: str
    expr: A.Expr
    range: SourceRange
    filename: str


@dataclass
class OutputDecl:
    name: str
    value: A.Expr | None
    sensitive: bool
    description: str
    depends_on: A.Expr | None
    range: SourceRange
    filename: str


@dataclass
class ResourceBlock:
    type: str
    name: str
    block: A.Block
    range: SourceRange
    filename: str

    @property
    def key(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class ModuleCall:
    name: str
    source: str
    child: ModuleConfig | None
    args: dict[str, A.Attribute]
    count: A.Attribute | None
    for_each: A.Attribute | None
    depends_on: A.Attribute | None
    range: SourceRange
    filename: str


@dataclass
class MovedDecl:
    """`moved { from = A  to = B }`: what state knows as A is B now (root module addresses)."""

    from_addr: str
    to_addr: str
    range: SourceRange


@dataclass
class RemovedDecl:
    """`removed { from = A  lifecycle { destroy = false } }`: A leaves the configuration; with
    destroy = false it is forgotten (dropped from state, left running), else destroyed."""

    from_addr: str
    destroy: bool
    range: SourceRange


@dataclass
class ImportDecl:
    """`import { to = ADDRESS  id = EXPRESSION }`: adopt an existing object at plan time."""

    to_addr: str
    id_expr: A.Expr
    range: SourceRange
    filename: str


@dataclass
class CheckDecl:
    """`check "NAME" { assert { condition error_message } ... }`: assertions about the whole
    configuration, reported as warnings (they never stop a plan or an apply)."""

    name: str
    asserts: list[tuple[A.Expr, A.Expr, SourceRange]]  # condition, error_message, where
    range: SourceRange
    filename: str


@dataclass
class ModuleConfig:
    """One module's declarations; `path` is the tuple of call names from the root."""

    path: tuple[str, ...]
    dir: Path
    variables: dict[str, VariableDecl] = field(default_factory=dict)
    locals: dict[str, LocalDecl] = field(default_factory=dict)
    outputs: dict[str, OutputDecl] = field(default_factory=dict)
    module_calls: dict[str, ModuleCall] = field(default_factory=dict)
    resources: dict[str, ResourceBlock] = field(default_factory=dict)
    providers: list[tuple[A.Block, str]] = field(default_factory=list)
    settings: tuple[A.Block, str] | None = None
    moved: list[MovedDecl] = field(default_factory=list)
    removed: list[RemovedDecl] = field(default_factory=list)
    checks: dict[str, CheckDecl] = field(default_factory=dict)
    imports: list[ImportDecl] = field(default_factory=list)

    def walk(self) -> Iterator[ModuleConfig]:
        yield self
        for mc in self.module_calls.values():
            if mc.child is not None:
                yield from mc.child.walk()


@dataclass
class Config:
    """A loaded configuration: the root module and its children, plus every file's text."""

    root_dir: Path
    root: ModuleConfig
    sources: dict[str, str]
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def variables(self) -> dict[str, VariableDecl]:
        return self.root.variables

    @property
    def settings_block(self) -> A.Block | None:
        return self.root.settings[0] if self.root.settings else None

    def modules(self) -> Iterator[ModuleConfig]:
        return self.root.walk()


def read_source(path: Path, filename: str, diags: Diagnostics) -> str | None:
    """Read a file as UTF-8 text, refusing binary content early (lark on garbage must not hang)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        diags.add_error(
            "Failed to read file", f"Cannot read {filename}: {e.strerror}.", SourceRange.at(filename, 1)
        )
        return None
    return decode_source(data, filename, diags)


def decode_source(data: bytes, filename: str, diags: Diagnostics) -> str | None:
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        diags.add_error(
            "Invalid file content",
            f"{filename} contains a NUL byte at byte offset {nul}; it looks like a binary file, not an"
            " HCL configuration. Remove it or rename it so it does not end in .hcl.",
            SourceRange.at(filename, line),
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        diags.add_error(
            "Invalid file encoding",
            f"{filename} is not valid UTF-8: invalid byte at byte offset {e.start} (line {line})."
            " Save the file as UTF-8.",
            SourceRange.at(filename, line),
        )
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def parse_source(text: str, filename: str, cache: ParseCache, diags: Diagnostics) -> A.File | None:
    key = cache.key(text.encode("utf-8"))
    hit = cache.get(key)
    if hit is not None:
        return hit
    try:
        from .parser import parse_file_text  # hcl2 and lark only when a file is parsed

        f = parse_file_text(text)
    except ParseError as e:
        diags.add_error(e.summary, e.detail, SourceRange.at(filename, e.line, e.column))
        return None
    cache.put(key, f)
    return f


class _Loader:
    def __init__(self, root_dir: Path, cache: ParseCache, diags: Diagnostics) -> None:
        self.root_dir = root_dir
        self.cache = cache
        self.diags = diags
        self.sources: dict[str, str] = {}
        self.parsed: dict[Path, list[tuple[A.File, str]] | None] = {}

    def relname(self, p: Path) -> str:
        return os.path.relpath(p, self.root_dir).replace(os.sep, "/")

    def files(self, d: Path, called_from: SourceRange | None) -> list[tuple[A.File, str]] | None:
        d = d.resolve()
        if d in self.parsed:
            return self.parsed[d]
        if not d.is_dir():
            self.diags.add_error(
                "Module not found" if called_from else "No configuration files",
                f"The directory {d} does not exist.",
                called_from,
            )
            self.parsed[d] = None
            return None
        paths = []
        for p in sorted(d.glob("*.hcl")):
            if p.is_file():
                paths.append(p)
            else:  # a FIFO would block the read, a dangling symlink has nothing to read
                what = (
                    "a dangling symbolic link" if p.is_symlink() and not p.exists() else "not a regular file"
                )
                if not p.is_dir():
                    self.diags.add_error(
                        "Cannot read configuration file",
                        f"{self.relname(p)} is {what}. Configuration files must be regular files; "
                        "remove it or rename it so it does not end in .hcl.",
                        called_from,
                    )
        if not paths:
            self.diags.add_error(
                "No configuration files",
                f"The directory {self.relname(d) if called_from else d} contains no *.hcl files."
                + (
                    " Point the module source at a directory with configuration files."
                    if called_from
                    else " Run mlrt in a directory with configuration files, or use -chdir=DIR."
                ),
                called_from,
            )
            self.parsed[d] = None
            return None
        out: list[tuple[A.File, str]] = []
        for p in paths:
            name = self.relname(p)
            text = read_source(p, name, self.diags)
            if text is None:
                continue
            self.sources[name] = text
            f = parse_source(text, name, self.cache, self.diags)
            if f is not None:
                out.append((f, name))
        self.parsed[d] = out
        return out

    def module(
        self, d: Path, path: tuple[str, ...], called_from: SourceRange | None, chain: tuple[Path, ...]
    ) -> ModuleConfig | None:
        files = self.files(d, called_from)
        if files is None:
            return None
        mc = ModuleConfig(path, d.resolve())
        here = chain + (mc.dir,)
        for f, name in files:
            for b in f.blocks:
                self.block(mc, b, name, here)
            for a in f.attributes:
                self.diags.add_error(
                    "Unsupported argument",
                    f'An argument named "{a.name}" is not expected at the top level of a'
                    " configuration file; arguments belong inside a block.",
                    rng(name, a.pos),
                )
        return mc

    def _dup(self, what: str, addr: str, first: SourceRange, second: SourceRange) -> None:
        self.diags.add_error(
            f"Duplicate {what}",
            f"{addr} is declared twice: first at {first.filename} line {first.start.line}, again at"
            f" {second.filename} line {second.start.line}. Each must be unique within a module;"
            " rename or remove one.",
            second,
            related=[first],
        )

    def block(self, mc: ModuleConfig, b: A.Block, name: str, chain: tuple[Path, ...]) -> None:
        r = rng(name, b.pos)
        t = b.type
        if t not in BLOCK_TYPES:
            close = difflib.get_close_matches(t, BLOCK_TYPES, n=1, cutoff=0.6)
            self.diags.add_error(
                "Unsupported block type",
                f'Blocks of type "{t}" are not expected here.'
                + (f' Did you mean "{close[0]}"?' if close else "")
                + " Valid block types are: "
                + ", ".join(BLOCK_TYPES)
                + ".",
                r,
            )
            return
        want = _LABELS.get(t, 1)
        if len(b.labels) != want:
            self.diags.add_error(
                "Wrong number of block labels",
                f'A "{t}" block takes {want} label(s)'
                + (f', like {t} "NAME" {{ ... }}' if want else "")
                + f", but {len(b.labels)} were given.",
                r,
            )
            return
        if t in RESOURCE_TYPES:
            rb = ResourceBlock(t, b.labels[0], b, r, name)
            if rb.key in mc.resources:
                self._dup("resource", _mod_prefix(mc.path) + rb.key, mc.resources[rb.key].range, r)
            else:
                mc.resources[rb.key] = rb
        elif t == "variable":
            self.variable(mc, b, name, r)
        elif t == "locals":
            for blk in b.blocks:
                self.diags.add_error(
                    "Unexpected block",
                    "A locals block holds only attributes (name = value).",
                    rng(name, blk.pos),
                )
            for a in b.attributes:
                ar = rng(name, a.pos)
                if a.name in mc.locals:
                    self._dup("local value", f"local.{a.name}", mc.locals[a.name].range, ar)
                else:
                    mc.locals[a.name] = LocalDecl(a.name, a.expr, ar, name)
        elif t == "output":
            self.output(mc, b, name, r)
        elif t == "module":
            self.module_call(mc, b, name, r, chain)
        elif t == "provider":
            if mc.path:
                self.diags.add_warning(
                    "Provider configuration in a module",
                    "Provider blocks belong in the root module; provider configurations are"
                    " global. This block is ignored.",
                    r,
                )
            else:
                mc.providers.append((b, name))
        elif t == "check":
            self.check_block(mc, b, name, r)
        elif t in ("moved", "removed", "import"):
            if mc.path:
                self.diags.add_warning(
                    f"{t.capitalize()} block in a module",
                    f"mlrt reads {t} blocks in the root module only, with full addresses"
                    f" (module.NAME.TYPE.NAME); this one is ignored. Move it to the root module.",
                    r,
                )
            elif t == "moved":
                self.moved_block(mc, b, name, r)
            elif t == "import":
                self.import_block(mc, b, name, r)
            else:
                self.removed_block(mc, b, name, r)
        elif t == "mlrt":
            if mc.path:
                self.diags.add_warning(
                    "Settings block in a module",
                    "The mlrt block is read only in the root module; this one is ignored.",
                    r,
                )
            elif mc.settings is not None:
                self._dup("mlrt block", "The mlrt settings block", rng(mc.settings[1], mc.settings[0].pos), r)
            else:
                mc.settings = (b, name)

    def _address_arg(self, b: A.Block, at: dict[str, A.Attribute], arg: str, name: str) -> str | None:
        """A `from`/`to` argument: a static address (resource, instance or module), as written."""
        a = at.get(arg)
        if a is None:
            self.diags.add_error(
                "Missing required argument",
                f'The argument "{arg}" is required in a {b.type} block.',
                rng(name, b.pos),
            )
            return None
        text = _source_text(self.sources[name], a.expr.pos) if isinstance(a.expr, A.Traversal) else ""
        if Address.try_parse(text, allow_module_only=True) is None:
            self.diags.add_error(
                "Invalid address",
                f'"{arg}" takes the address of a resource, an instance or a module, written without'
                " quotes, like training.churn, training.churn[0] or module.team.",
                rng(name, a.expr.pos),
            )
            return None
        return "".join(text.split())

    def moved_block(self, mc: ModuleConfig, b: A.Block, name: str, r: SourceRange) -> None:
        at = self._attrs(b, name, ("from", "to"), "moved")
        src, dst = self._address_arg(b, at, "from", name), self._address_arg(b, at, "to", name)
        if src is None or dst is None:
            return
        a, z = Address.parse(src, allow_module_only=True), Address.parse(dst, allow_module_only=True)
        if bool(a.type) != bool(z.type) or (a.type and a.type != z.type):
            what = f"{a.type or 'a module'} to {z.type or 'a module'}"
            self.diags.add_error(
                "Invalid moved block",
                f"A moved block cannot move {what}: a resource moves to another address of the same"
                " type, a module to another module.",
                r,
            )
            return
        mc.moved.append(MovedDecl(src, dst, r))

    def check_block(self, mc: ModuleConfig, b: A.Block, name: str, r: SourceRange) -> None:
        self._attrs(b, name, (), "check")
        asserts: list[tuple[A.Expr, A.Expr, SourceRange]] = []
        for sub in b.blocks:
            if sub.type != "assert":
                self.diags.add_error(
                    "Unsupported block type",
                    f'Blocks of type "{sub.type}" are not expected in a check block; only assert'
                    + (" (scoped data sources are not implemented yet)." if sub.type == "data" else "."),
                    rng(name, sub.pos),
                )
                continue
            at = self._attrs(sub, name, ("condition", "error_message"), "assert")
            missing = [a for a in ("condition", "error_message") if a not in at]
            if missing:
                self.diags.add_error(
                    "Missing required argument",
                    f'The argument "{missing[0]}" is required in an assert block.',
                    rng(name, sub.pos),
                )
                continue
            asserts.append((at["condition"].expr, at["error_message"].expr, rng(name, at["condition"].pos)))
        if not asserts and not any(sb.type != "assert" for sb in b.blocks):
            self.diags.add_error("Missing assert block", "A check block needs at least one assert block.", r)
        key = b.labels[0]
        if key in mc.checks:
            self._dup("check block", f"check.{key}", mc.checks[key].range, r)
            return
        mc.checks[key] = CheckDecl(key, asserts, r, name)

    def import_block(self, mc: ModuleConfig, b: A.Block, name: str, r: SourceRange) -> None:
        at = self._attrs(b, name, ("to", "id"), "import")
        to = self._address_arg(b, at, "to", name)
        if "id" not in at:
            self.diags.add_error(
                "Missing required argument", 'The argument "id" is required in an import block.', r
            )
            return
        if to is None:
            return
        if not Address.parse(to, allow_module_only=True).type:
            self.diags.add_error(
                "Invalid import address", f"An import block imports one resource instance, not {to}.", r
            )
            return
        if any(i.to_addr == to for i in mc.imports):
            self.diags.add_error("Duplicate import block", f"{to} is imported by two import blocks.", r)
            return
        mc.imports.append(ImportDecl(to, at["id"].expr, r, name))

    def removed_block(self, mc: ModuleConfig, b: A.Block, name: str, r: SourceRange) -> None:
        at = self._attrs(b, name, ("from",), "removed")
        destroy = True
        for sub in b.blocks:
            if sub.type != "lifecycle":
                self.diags.add_error(
                    "Unsupported block type",
                    f'Blocks of type "{sub.type}" are not expected in a removed block; only lifecycle.',
                    rng(name, sub.pos),
                )
                continue
            la = self._attrs(sub, name, ("destroy",), "lifecycle")
            if "destroy" in la:
                destroy = self._literal(la["destroy"], name, bool, True)
        src = self._address_arg(b, at, "from", name)
        if src is not None:
            mc.removed.append(RemovedDecl(src, destroy, r))

    def _attrs(self, b: A.Block, name: str, allowed: tuple[str, ...], what: str) -> dict[str, A.Attribute]:
        out: dict[str, A.Attribute] = {}
        for a in b.attributes:
            if a.name not in allowed:
                close = difflib.get_close_matches(a.name, allowed, n=1, cutoff=0.6)
                self.diags.add_error(
                    "Unsupported argument",
                    f'An argument named "{a.name}" is not expected in a {what} block.'
                    + (f' Did you mean "{close[0]}"?' if close else "")
                    + " Valid arguments: "
                    + ", ".join(allowed)
                    + ".",
                    rng(name, a.pos),
                )
            elif a.name in out:
                self.diags.add_error(
                    "Duplicate argument", f'The argument "{a.name}" was already set.', rng(name, a.pos)
                )
            else:
                out[a.name] = a
        return out

    def _literal(self, a: A.Attribute | None, name: str, kind: type, default: Any) -> Any:
        if a is None:
            return default
        if isinstance(a.expr, A.Literal) and isinstance(a.expr.value, kind):
            return a.expr.value
        self.diags.add_error(
            "Invalid value", f'The argument "{a.name}" must be a literal {kind.__name__}.', rng(name, a.pos)
        )
        return default

    def variable(self, mc: ModuleConfig, b: A.Block, name: str, r: SourceRange) -> None:
        vname = b.labels[0]
        at = self._attrs(b, name, ("type", "default", "description", "sensitive", "nullable"), "variable")
        typ: TypeSpec | None = None
        if "type" in at:
            try:
                typ = parse_type(at["type"].expr)
            except EvalError as e:
                self.diags.add_error(e.summary, e.detail, rng(name, e.pos or at["type"].pos))
        validations: list[tuple[A.Expr, A.Expr | None]] = []
        for vb in b.blocks:
            if vb.type != "validation" or vb.labels:
                self.diags.add_error(
                    "Unsupported block type",
                    f'Blocks of type "{vb.type}" are not expected in a'
                    " variable block; only validation { condition error_message }.",
                    rng(name, vb.pos),
                )
                continue
            va = self._attrs(vb, name, ("condition", "error_message"), "validation")
            if "condition" not in va:
                self.diags.add_error(
                    "Missing required argument",
                    'A validation block needs a "condition" argument.',
                    rng(name, vb.pos),
                )
                continue
            cond = va["condition"].expr
            for ref in _iter_refs(cond):
                if not (ref.root == "var" and ref.steps[:1] == (("a", vname),)):
                    self.diags.add_error(
                        "Invalid reference in variable validation",
                        f'The condition for variable "{vname}" can only refer to the variable'
                        f" itself, using var.{vname}.",
                        rng(name, ref.pos),
                    )
                    break
            else:
                validations.append((cond, va["error_message"].expr if "error_message" in va else None))
        decl = VariableDecl(
            vname,
            typ,
            at["default"].expr if "default" in at else None,
            self._literal(at.get("description"), name, str, ""),
            self._literal(at.get("sensitive"), name, bool, False),
            self._literal(at.get("nullable"), name, bool, True),
            validations,
            r,
            name,
        )
        if vname in mc.variables:
            self._dup("variable", f"var.{vname}", mc.variables[vname].range, r)
        else:
            mc.variables[vname] = decl

    def output(self, mc: ModuleConfig, b: A.Block, name: str, r: SourceRange) -> None:
        oname = b.labels[0]
        at = self._attrs(b, name, ("value", "sensitive", "description", "depends_on"), "output")
        if "value" not in at:
            self.diags.add_error(
                "Missing required argument", f'Output "{oname}" needs a "value" argument.', r
            )
        decl = OutputDecl(
            oname,
            at["value"].expr if "value" in at else None,
            self._literal(at.get("sensitive"), name, bool, False),
            self._literal(at.get("description"), name, str, ""),
            at["depends_on"].expr if "depends_on" in at else None,
            r,
            name,
        )
        if oname in mc.outputs:
            self._dup("output", f'output "{oname}"', mc.outputs[oname].range, r)
        else:
            mc.outputs[oname] = decl

    def module_call(
        self, mc: ModuleConfig, b: A.Block, name: str, r: SourceRange, chain: tuple[Path, ...]
    ) -> None:
        cname = b.labels[0]
        args: dict[str, A.Attribute] = {}
        meta: dict[str, A.Attribute] = {}
        for a in b.attributes:
            if a.name in ("source", "count", "for_each", "depends_on", "providers", "version"):
                meta[a.name] = a
            else:
                args[a.name] = a
        for blk in b.blocks:
            self.diags.add_error(
                "Unsupported block type",
                f'Blocks of type "{blk.type}" are not expected in a module block.',
                rng(name, blk.pos),
            )
        if cname in mc.module_calls:
            self._dup("module call", f"module.{cname}", mc.module_calls[cname].range, r)
            return
        src_attr = meta.get("source")
        source = ""
        child: ModuleConfig | None = None
        if src_attr is None:
            self.diags.add_error(
                "Missing required argument", f'Module "{cname}" needs a "source" argument.', r
            )
        elif not (isinstance(src_attr.expr, A.Literal) and isinstance(src_attr.expr.value, str)):
            self.diags.add_error(
                "Invalid module source",
                "The module source must be a literal string.",
                rng(name, src_attr.pos),
            )
        else:
            source = src_attr.expr.value
            sr = rng(name, src_attr.pos)
            if not (source.startswith("./") or source.startswith("../")):
                self.diags.add_error(
                    "Unsupported module source",
                    f'The module source "{source}" is not a local path. Only local directories'
                    ' are supported; write it like "./modules/NAME".',
                    sr,
                )
            else:
                d = (chain[-1] / source).resolve()
                if d in chain:
                    self.diags.add_error(
                        "Module cycle",
                        f'Module "{cname}" includes the directory {source}, which'
                        " is one of its own ancestors; modules cannot include themselves.",
                        sr,
                    )
                elif len(mc.path) >= MAX_MODULE_DEPTH:
                    self.diags.add_error(
                        "Modules nested too deeply",
                        f"Modules may nest at most {MAX_MODULE_DEPTH} levels.",
                        sr,
                    )
                else:
                    child = self.module(d, mc.path + (cname,), sr, chain)
        if "count" in meta and "for_each" in meta:
            self.diags.add_error(
                'Invalid combination of "count" and "for_each"',
                'The "count" and "for_each" meta-arguments are mutually exclusive; only one should be used.',
                rng(name, meta["for_each"].pos),
            )
        if child is not None:
            for an, a in args.items():
                if an not in child.variables:
                    self.diags.add_error(
                        "Unsupported argument",
                        f'An argument named "{an}" is not expected here: module "{cname}" declares'
                        " no such variable." + _suggest(an, child.variables),
                        rng(name, a.pos),
                    )
            for vn, v in child.variables.items():
                if vn not in args and v.default is None:
                    self.diags.add_error(
                        "Missing required argument",
                        f'The argument "{vn}" is required by module "{cname}", but no definition was found.',
                        r,
                    )
        mc.module_calls[cname] = ModuleCall(
            cname,
            source,
            child,
            args,
            meta.get("count"),
            meta.get("for_each"),
            meta.get("depends_on"),
            r,
            name,
        )


def _suggest(name: str, options: Any) -> str:
    m = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f' Did you mean "{m[0]}"?' if m else ""


def _iter_refs(e: A.Expr) -> Iterator[A.Traversal]:
    from .references import iter_refs

    return iter_refs(e)


def _mod_prefix(path: tuple[str, ...]) -> str:
    return "".join(f"module.{p}." for p in path)


def load_config(directory: Path, *, cache_dir: Path | None = None) -> tuple[Config, Diagnostics]:
    """Load every *.hcl file of `directory` and its local child modules."""
    diags = Diagnostics()
    root_dir = Path(directory).resolve()
    if cache_dir is None:
        cache_dir = root_dir / ".mlrt" / "cache" / "parse"
    cache = ParseCache.for_project(cache_dir, root_dir)
    loader = _Loader(root_dir, cache, diags)
    gc_was = gc.isenabled()
    gc.disable()  # parsing allocates many small acyclic objects; collection cycles made it superlinear
    try:
        root = loader.module(root_dir, (), None, ())
    finally:
        if gc_was:
            gc.enable()
    cfg = Config(
        root_dir,
        root if root is not None else ModuleConfig((), root_dir),
        loader.sources,
        cache.hits,
        cache.misses,
    )
    return cfg, diags
