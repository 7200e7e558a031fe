"""Resource addresses: the one parser and matcher every part of mlrt uses.

An address names a resource instance the way Terraform does:
`module.team["a"].training.t[0]` is the module path `module.team["a"]`, the type `training`,
the block label `t` and the instance key `0`. Module-only addresses (`module.team`) are valid
where a command works on a whole module (`state mv`, `-target`).

`Address.parse` is strict (a malformed address is an `AddressError` that says how to write one);
`contains` answers "is this address the target itself, an instance of it, or inside it", which
is what `-target`, `-replace`, `state rm` and `state mv` all mean by matching.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import MlrtError

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
# One segment: an identifier optionally followed by [123] or ["any \"quoted\" text"].
_SEGMENT = re.compile(rf'({_IDENT})(?:\[(-?\d+|"(?:[^"\\]|\\.)*")\])?')

Key = int | str | None
ModuleStep = tuple[str, Key]


class AddressError(MlrtError):
    """A string that is not a valid resource address."""


def format_key(key: Key) -> str:
    """`[0]`, `["a"]` or "" for no key."""
    if key is None:
        return ""
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


def _invalid(text: str) -> AddressError:
    return AddressError(
        f"Invalid resource address {text!r}",
        'Write it like training.t, compute_pool.gpu["a10"], service.s[0] or module.team.service.api.',
    )


def _segments(text: str) -> list[tuple[str, Key]]:
    out: list[tuple[str, Key]] = []
    pos = 0
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if m is None:
            raise _invalid(text)
        raw = m.group(2)
        key: Key = None
        if raw is not None:
            key = json.loads(raw) if raw.startswith('"') else int(raw)
        out.append((m.group(1), key))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise _invalid(text)
            pos += 1
            if pos == len(text):
                raise _invalid(text)
    if not out:
        raise _invalid(text)
    return out


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed address. `type` and `name` are "" for a module-only address."""

    module_path: tuple[ModuleStep, ...]
    type: str
    name: str
    key: Key = None

    @classmethod
    def parse(cls, text: str, allow_module_only: bool = False) -> Address:
        """Parse `text`; with `allow_module_only`, `module.a` (no resource) is accepted too."""
        segs = _segments(text.strip())
        steps: list[ModuleStep] = []
        i = 0
        while i < len(segs) and segs[i][0] == "module" and segs[i][1] is None and i + 1 < len(segs):
            steps.append(segs[i + 1])
            i += 2
        rest = segs[i:]
        if not rest and allow_module_only and steps:
            return cls(tuple(steps), "", "", None)
        if len(rest) != 2 or rest[0][1] is not None:
            raise _invalid(text)
        (rtype, _), (name, key) = rest
        return cls(tuple(steps), rtype, name, key)

    @classmethod
    def try_parse(cls, text: str, allow_module_only: bool = False) -> Address | None:
        """Like `parse`, but None for a malformed address."""
        try:
            return cls.parse(text, allow_module_only)
        except AddressError:
            return None

    @classmethod
    def of_reference(cls, text: str) -> Address | None:
        """The resource a reference names: `training.t.model_uri` -> `training.t`,
        `module.m.service.s[0].endpoint` -> `module.m.service.s[0]` (None when none does)."""
        parts = text.strip().split(".")
        for end in range(len(parts), 1, -1):
            found = cls.try_parse(".".join(parts[:end]))
            if found is not None:
                return found
        return None

    @property
    def module(self) -> str:
        """The module path as text: "" for the root module, else 'module.team["a"]'."""
        return ".".join(f"module.{n}{format_key(k)}" for n, k in self.module_path)

    @property
    def module_names(self) -> tuple[str, ...]:
        """The module path without instance keys: ("team",) for `module.team["a"]....`."""
        return tuple(n for n, _ in self.module_path)

    @property
    def is_module_only(self) -> bool:
        return not self.type

    @property
    def block(self) -> Address:
        """The block this instance belongs to (the same address without its key)."""
        return Address(self.module_path, self.type, self.name, None)

    @property
    def local(self) -> str:
        """`TYPE.NAME` without module path or key."""
        return f"{self.type}.{self.name}" if self.type else ""

    @property
    def label(self) -> str:
        """A plain name for the object: the block label, with `-KEY` when the instance has a key
        (`compute_pool.gpu["a10"]` -> `gpu-a10`)."""
        return self.name if self.key is None else f"{self.name}-{self.key}"

    def instance(self, key: Key) -> Address:
        return Address(self.module_path, self.type, self.name, key)

    def __str__(self) -> str:
        if not self.type:
            return self.module
        own = f"{self.type}.{self.name}{format_key(self.key)}"
        return f"{self.module}.{own}" if self.module_path else own

    def contains(self, other: Address) -> bool:
        """True when `other` is this address, an instance of it (this has no key), or lies
        inside this module (for a module-only address, or a module instance path)."""
        if self.is_module_only:
            n = len(self.module_path)
            if len(other.module_path) < n or other.module_path[: n - 1] != self.module_path[: n - 1]:
                return False
            (mine_name, mine_key), (their_name, their_key) = self.module_path[-1], other.module_path[n - 1]
            return mine_name == their_name and (mine_key is None or mine_key == their_key)
        if (other.module_path, other.type, other.name) != (self.module_path, self.type, self.name):
            return False
        return self.key is None or self.key == other.key


@lru_cache(maxsize=4096)
def _parsed(text: str, allow_module_only: bool) -> Address | None:
    return Address.try_parse(text, allow_module_only)


def contains(prefix: str, address: str) -> bool:
    """`Address.contains` on text; a malformed address is never contained."""
    outer = _parsed(prefix, True)
    inner = _parsed(address, False)
    return outer is not None and inner is not None and outer.contains(inner)


def matches_any(address: str, targets: list[str] | tuple[str, ...]) -> bool:
    """True when some target contains `address` (what `-target`, `-replace` and `state rm` mean)."""
    return any(contains(t, address) for t in targets)


__all__ = ["Address", "AddressError", "contains", "format_key", "matches_any"]
