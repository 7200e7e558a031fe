"""Resource addresses as state stores them: `module.team["a"].training.t[0]`.

Split into the module path, the type, the name and the instance key so `state mv`/`rm` can work
on one instance, every instance of a block, or a whole module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mlrt_iac.errors import StateError

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
# One segment: an identifier optionally followed by [123] or ["any \"quoted\" text"].
_SEGMENT = re.compile(rf'({_IDENT})(?:\[(-?\d+|"(?:[^"\\]|\\.)*")\])?')


@dataclass(frozen=True, slots=True)
class AddressParts:
    module: str  # "" for the root module, else 'module.team["a"]'
    type: str  # "" when the address names a module only
    name: str
    key: int | str | None


def format_key(key: int | str | None) -> str:
    """`[0]`, `["a"]` or "" for no key."""
    if key is None:
        return ""
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


def _segments(address: str) -> list[tuple[str, int | str | None]]:
    out: list[tuple[str, int | str | None]] = []
    pos = 0
    while pos < len(address):
        m = _SEGMENT.match(address, pos)
        if m is None:
            raise _invalid(address)
        raw = m.group(2)
        key: int | str | None = None
        if raw is not None:
            key = json.loads(raw) if raw.startswith('"') else int(raw)
        out.append((m.group(1), key))
        pos = m.end()
        if pos < len(address):
            if address[pos] != ".":
                raise _invalid(address)
            pos += 1
            if pos == len(address):
                raise _invalid(address)
    if not out:
        raise _invalid(address)
    return out


def parse_address(address: str, allow_module_only: bool = False) -> AddressParts:
    """Parse an address; with `allow_module_only`, `module.a` (no resource) is accepted too."""
    segs = _segments(address)
    module_parts: list[str] = []
    i = 0
    while i < len(segs) and segs[i][0] == "module" and segs[i][1] is None and i + 1 < len(segs):
        name, key = segs[i + 1]
        module_parts.append(f"module.{name}{format_key(key)}")
        i += 2
    rest = segs[i:]
    module = ".".join(module_parts)
    if not rest and allow_module_only and module:
        return AddressParts(module, "", "", None)
    if len(rest) != 2 or rest[0][1] is not None:
        raise _invalid(address)
    (rtype, _), (name, key) = rest
    return AddressParts(module, rtype, name, key)


def is_within(address: str, prefix: str) -> bool:
    """True when `address` is `prefix` itself, an instance of it, or inside it (a module)."""
    if address == prefix:
        return True
    if not address.startswith(prefix):
        return False
    nxt = address[len(prefix)]
    return nxt == "." or (nxt == "[" and not prefix.endswith("]"))


def _invalid(address: str) -> StateError:
    return StateError(f"Invalid resource address {address!r}",
                      'Write it like training.t, compute_pool.gpu["a10"], service.s[0] or '
                      "module.team.service.api.")
