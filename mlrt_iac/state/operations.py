"""What `mlrt state list | show | rm | mv | pull | push` do to a state document.

Pure functions over `StateDocument` (no printing, no backend access) plus `transaction`, which
runs one of them under the backend's lock and writes the result. `rm` and `mv` only change what
mlrt remembers: nothing is ever destroyed or created by them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..addrs import Address, contains
from ..errors import StateError
from .backend import Backend, LockInfo, read_or_new
from .document import ResourceState, StateDocument


def list_addresses(doc: StateDocument | None, filters: Sequence[str] = ()) -> list[str]:
    """Addresses in the state, sorted; with filters, those equal to or inside any filter."""
    if doc is None:
        return []
    addrs = doc.addresses()
    if not filters:
        return addrs
    for f in filters:
        Address.parse(f, allow_module_only=True)
    return [a for a in addrs if any(contains(f, a) for f in filters)]


def show(doc: StateDocument | None, address: str) -> ResourceState:
    """The entry at exactly `address`, or a StateError saying what the user may have meant."""
    Address.parse(address)
    rs = doc.get(address) if doc is not None else None
    if rs is not None:
        return rs
    addrs = doc.addresses() if doc is not None else []
    inside = [a for a in addrs if contains(address, a)]
    if inside:
        raise StateError(
            f"{address} has {len(inside)} instances in the state", f"Name one of them, e.g. {inside[0]}."
        )
    raise StateError(f"No resource {address} in the state", _suggest(address, addrs))


def remove(doc: StateDocument, addresses: Sequence[str]) -> list[str]:
    """Forget every entry equal to or inside each address; refuse an address matching nothing."""
    if not addresses:
        raise StateError("No address given", "Name at least one resource or module to remove.")
    addrs = doc.addresses()
    chosen: list[str] = []
    for target in addresses:
        Address.parse(target, allow_module_only=True)
        matched = [a for a in addrs if contains(target, a)]
        if not matched:
            raise StateError(
                f"No resource {target} in the state", _suggest(target, addrs) + " Nothing was removed."
            )
        chosen.extend(a for a in matched if a not in chosen)
    for a in chosen:
        doc.remove(a)
    return chosen


def move(doc: StateDocument, src: str, dst: str) -> list[tuple[str, str]]:
    """Rename one instance, every instance of a block, or every resource in a module.

    `training.a training.b` moves one entry (or all of `training.a[...]` when it has keys);
    `module.x module.y` moves everything inside the module. Dependencies recorded by other
    entries follow. Returns the (old, new) pairs; refuses when a destination exists.
    """
    src_parts = Address.parse(src, allow_module_only=True)
    dst_parts = Address.parse(dst, allow_module_only=True)
    addrs = doc.addresses()
    if src in doc:
        if not dst_parts.type:
            raise StateError(
                f"Cannot move {src} to {dst}: the destination is a module",
                f"Give a resource address, e.g. {dst}.{src_parts.type}.{src_parts.name}.",
            )
        pairs = [(src, dst)]
    else:
        matched = [a for a in addrs if contains(src, a)]
        if not matched:
            raise StateError(f"No resource {src} in the state", _suggest(src, addrs))
        if bool(src_parts.type) != bool(dst_parts.type):
            kind = "a module" if not src_parts.type else "a resource"
            raise StateError(
                f"Cannot move {src} to {dst}", f"{src} is {kind}, so the destination must be {kind} too."
            )
        if dst_parts.key is not None or (not dst_parts.type and dst.endswith("]")):
            keyed = [a for a in matched if a[len(src)] == "["]
            if keyed:
                raise StateError(
                    f"Cannot move {src} to {dst}: {src} has instances with keys",
                    f"Move them one by one, e.g. {keyed[0]}, or give a destination without a key.",
                )
        pairs = [(a, dst + a[len(src) :]) for a in matched]
    news = [new for _, new in pairs]
    for new in news:
        Address.parse(new)
        if new in doc:
            raise StateError(
                f"Cannot move {src} to {dst}: {new} already exists in the state",
                f"Remove it first with `mlrt state rm {new}` if it is stale. Nothing was moved.",
            )
    for old, new in pairs:
        doc.move(old, new)
    return pairs


def pull(doc: StateDocument | None) -> str:
    """The state as its JSON text (empty when there is no state yet)."""
    return doc.to_json() if doc is not None else ""


def push(current: StateDocument | None, incoming: StateDocument, force: bool = False) -> StateDocument:
    """Check that `incoming` may replace `current` and return the document to write.

    Refused without `force`: another lineage (a different state's history), a lower serial (an
    older copy), or the same serial with different content (a diverged copy). The backend's
    write bumps the serial past both documents' serials.
    """
    if current is not None and not force:
        if incoming.lineage != current.lineage:
            raise StateError(
                "Cannot push a state with a different lineage",
                f"The stored state has lineage {current.lineage}; the file has "
                f"{incoming.lineage}, so it is not a version of this state. Check that "
                "you push the right file, or pass -force to overwrite.",
            )
        if incoming.serial < current.serial:
            raise StateError(
                "Cannot push an older state",
                f"The stored state has serial {current.serial}; the file has "
                f"{incoming.serial}, so it would undo later changes. Pull the current "
                "state and edit that, or pass -force to overwrite.",
            )
        if incoming.serial == current.serial and not incoming.same_content(current):
            raise StateError(
                "Cannot push a state that diverged from the stored one",
                f"Both have serial {current.serial} but different content. Pull the "
                "current state and edit that, or pass -force to overwrite.",
            )
    if current is not None:
        incoming.serial = max(incoming.serial, current.serial)
    return incoming


@contextmanager
def transaction(backend: Backend, operation: str, timeout: float = 0.0) -> Iterator[StateDocument]:
    """Lock, read (or start an empty state), yield the document, write it if no error, unlock."""
    lock_id = backend.lock(LockInfo(operation=operation), timeout)
    try:
        doc = read_or_new(backend)
        yield doc
        backend.write(doc)
    finally:
        backend.unlock(lock_id)


def _suggest(address: str, addrs: Sequence[str]) -> str:
    close = difflib.get_close_matches(address, addrs, n=3, cutoff=0.6)
    if close:
        return f"Did you mean {' or '.join(close)}? Run `mlrt state list` to see every address."
    return "Run `mlrt state list` to see the addresses the state holds."
