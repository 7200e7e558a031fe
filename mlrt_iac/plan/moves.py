"""`moved` and `removed` blocks: how state addresses change before a plan is made.

Terraform's rules, for root-module statements with full addresses: a statement's `from` matches an
instance (`training.a[0]`), every instance of a resource (`training.a`), or everything inside a
module (`module.a`, `module.a["k"]`); chains (A -> B, B -> C) are followed; a statement whose `from`
is not in state is ignored; one whose destination is already in state is skipped with a warning;
statements that lead back to where they started are an error. `removed` with `destroy = false`
forgets what it names (state drops it, the object keeps running); with `destroy = true` what it
names is simply destroyed as any object the configuration no longer declares.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..addrs import Address
from ..config.loader import Config, MovedDecl, RemovedDecl
from ..diagnostics import Diagnostics
from ..state import StateDocument
from ..state.operations import move as state_move


@dataclass
class Refactoring:
    moves: list[tuple[str, str]] = field(default_factory=list)  # (old, new) state addresses
    forgets: list[str] = field(default_factory=list)  # addresses dropped from state, not destroyed


def _rewrite(addr: str, src: str, dst: str) -> str | None:
    """`addr` moved by `src -> dst`, or None when the statement does not match it."""
    if addr == src:
        return dst
    parts = Address.parse(src, allow_module_only=True)
    if not parts.type:  # a module: everything inside it (and its instances, when src has no key)
        if addr.startswith(src + "."):
            return dst + addr[len(src) :]
        if not src.endswith("]") and addr.startswith(src + "["):
            return dst + addr[len(src) :]
        return None
    if parts.key is None and addr.startswith(src + "["):  # every instance of a resource
        return dst + addr[len(src) :]
    return None


def _matches(addr: str, src: str) -> bool:
    return _rewrite(addr, src, src) is not None


def plan_refactoring(config: Config, addresses: Iterable[str], diags: Diagnostics) -> Refactoring:
    """The moves and forgets the configuration's statements ask of state with `addresses`."""
    moved: list[MovedDecl] = config.root.moved
    removed: list[RemovedDecl] = config.root.removed
    out = Refactoring()
    if not moved and not removed:
        return out
    present = set(addresses)
    for m in moved:
        if m.from_addr == m.to_addr:
            diags.add_error(
                "Redundant moved block", f"This statement moves {m.from_addr} to itself; remove it.", m.range
            )
    if diags.has_errors:
        return out
    taken: set[str] = set()
    for addr in sorted(present):
        seen = [addr]
        cur = addr
        while True:
            nxt = next((n for m in moved if (n := _rewrite(cur, m.from_addr, m.to_addr)) is not None), None)
            if nxt is None:
                break
            if nxt in seen:
                stmt = next(m for m in moved if _matches(cur, m.from_addr))
                diags.add_error(
                    "Cyclic moved blocks",
                    "These moved statements lead back to where they started: "
                    + " -> ".join([*seen, nxt])
                    + ". Remove one of them.",
                    stmt.range,
                )
                return Refactoring()
            seen.append(nxt)
            cur = nxt
        if cur == addr:
            continue
        if cur in present or cur in taken:
            stmt = next(m for m in moved if _matches(addr, m.from_addr))
            diags.add_warning(
                "Moved object still exists",
                f"This statement moves {addr} to {cur}, but state already has {cur}; {addr} was not"
                " moved. Remove one of them from state (`mlrt state rm`) or the statement.",
                stmt.range,
            )
            continue
        taken.add(cur)
        out.moves.append((addr, cur))
    after = (present - {a for a, _ in out.moves}) | taken
    for r in removed:
        if _declared(config, r.from_addr):
            diags.add_error(
                "Removed resource still declared",
                f"This statement says {r.from_addr} was removed, but the configuration still declares"
                " it. Remove its block, or this statement.",
                r.range,
            )
            continue
        if not r.destroy:
            out.forgets.extend(sorted(a for a in after if _matches(a, r.from_addr)))
    return out


def _declared(config: Config, addr: str) -> bool:
    parts = Address.parse(addr, allow_module_only=True)
    mc = config.root
    for name, _key in parts.module_path:
        call = mc.module_calls.get(name)
        if call is None or call.child is None:
            return False
        mc = call.child
    return not parts.type or f"{parts.type}.{parts.name}" in mc.resources


def refactored(doc: StateDocument, ref: Refactoring) -> StateDocument:
    """A copy of `doc` with the moves made and the forgotten entries dropped (the plan's view);
    `doc` itself is left as it is."""
    out = copy.deepcopy(doc)
    apply_refactoring(out, ref)
    return out


def apply_refactoring(doc: StateDocument, ref: Refactoring) -> None:
    """Make the moves and drop the forgotten entries in `doc` (apply does this before any change)."""
    for old, new in ref.moves:
        if old in doc and new not in doc:
            state_move(doc, old, new)
    for addr in ref.forgets:
        if addr in doc:
            doc.remove(addr)


def with_imports(doc: StateDocument | None, entries: list[dict[str, Any]]) -> StateDocument:
    """A copy of `doc` (or a new document) with the adopted objects' entries added."""
    out = copy.deepcopy(doc) if doc is not None else StateDocument()
    for e in entries:
        out.set(e)
    return out
