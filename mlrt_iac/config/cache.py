"""Content-addressed parse cache: file text -> parsed AST, stored as authenticated data.

`validate` and `plan` run on every pull request, so everything under the project directory
(including `.mlrt/cache/`) is untrusted input. The cache is built so that a planted or edited
entry can at worst be a cache miss, never code execution or a wrong parse:

* **What is stored.** Data only: the AST of `ast.py` as tagged JSON (orjson). Every JSON
  array starts with a small integer tag indexing the fixed `_NODE_CLASSES` registry (a node:
  `[tag, pos, field, ...]` in `_fields()` order) or one of the containers after it (list,
  tuple, pair, an int beyond 64 bits as a digit string, a non-finite float as "inf"/"nan");
  `pos`/`body_pos` are bare 4-lists; strings, numbers, booleans and null are themselves.
  Decoding builds only those registry classes (with `object.__new__` and their slot setters),
  lists, tuples and scalars: no name from the file is ever imported, looked up or called, and
  there is no pickle anywhere, so an entry cannot run code whatever bytes it holds. The
  registry's names and fields are part of the salt, so changing an AST class invalidates old
  entries by itself.
* **Authentication.** Each entry is `MAGIC + HMAC-SHA256(secret, name + payload) + payload`,
  and the entry's file name is itself an HMAC of the grammar/version salt and the file text,
  so names cannot be precomputed from the repository and an entry cannot be moved to another
  name. The secret is 32 random bytes in `$XDG_CACHE_HOME/mlrt/cache-key` (default
  `~/.cache/mlrt/cache-key`), outside the project, created once per user and machine with mode
  0600 (written to a temp file and hard-linked into place, so two racing processes agree on one
  key). A key file that is not a private regular file of ours, is the wrong size, or lies inside
  the project is not used.
* **On failure.** Without a usable key (no home, read-only cache dir, bad key file) the cache
  is off: every read is a miss and nothing is written. An entry that is missing, not a regular
  file, too large, truncated, fails the MAC, or does not decode into a `File` is a silent miss
  and is overwritten by the fresh parse. Writes are atomic (temp file + rename) and every write
  error is ignored. Deleting `.mlrt/cache/` or the key file is always safe (the latter just
  orphans the old entries).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import stat
import tempfile
import types
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from . import ast as A

AST_SCHEMA = "2"  # 2: tagged JSON + HMAC instead of pickle

MAGIC = b"MLRTAST2"
_MAC_LEN = 32
_KEY_LEN = 32
_MAX_ENTRY = 256 * 1024 * 1024  # a bigger file is not one of ours
_SUFFIX = ".ast"

# The only classes an entry may build, by tag = index. Never extended from data; the names and
# fields go into the salt, so changing an AST class invalidates every old entry by itself.
_NODE_CLASSES: tuple[type[A.Node], ...] = (
    A.File,
    A.Block,
    A.Attribute,
    A.Literal,
    A.Template,
    A.TemplateIf,
    A.TemplateFor,
    A.TupleExpr,
    A.ObjectExpr,
    A.Traversal,
    A.Relative,
    A.Splat,
    A.FuncCall,
    A.Unary,
    A.Binary,
    A.Conditional,
    A.ForExpr,
)
_NODE_TAG: dict[type, int] = {cls: i for i, cls in enumerate(_NODE_CLASSES)}
_LIST, _TUPLE, _PAIR, _BIG_INT, _FLOAT = range(len(_NODE_CLASSES), len(_NODE_CLASSES) + 5)
_POS_FIELDS = frozenset({"pos", "body_pos"})
_I64 = 2**63


class _Malformed(Exception):
    """An entry that does not decode into the expected shape."""


@lru_cache(maxsize=1)
def _salt() -> bytes:
    # hcl2 is located, not imported: a warm run never needs the parser (hcl2 and lark cost 70 ms)
    import importlib.util
    from importlib.metadata import version

    try:
        mlrt_version = version("mlrt-iac")
    except Exception:  # not installed (running from a source tree)
        mlrt_version = "dev"
    try:
        hcl_version = version("python-hcl2")
    except Exception:
        hcl_version = ""
    spec = importlib.util.find_spec("hcl2")
    origin = spec.origin if spec is not None else None
    grammar = Path(origin).with_name("hcl2.lark") if origin else None
    g = grammar.read_bytes() if grammar is not None and grammar.exists() else b""
    h = hashlib.sha256()
    registry = repr([(c.__name__, c._fields()) for c in _NODE_CLASSES]).encode()
    parts = (b"mlrt-parse", AST_SCHEMA.encode(), registry, mlrt_version.encode(), hcl_version.encode(), g)
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.digest()


# ---- the per-machine secret ---------------------------------------------------------------


def key_path() -> Path | None:
    """`$XDG_CACHE_HOME/mlrt/cache-key`, else `~/.cache/mlrt/cache-key`; None without a home."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        base = Path(xdg)
    else:
        try:
            base = Path.home() / ".cache"
        except (RuntimeError, KeyError, OSError):
            return None
        if not base.is_absolute():
            return None
    return base / "mlrt" / "cache-key"


def _read_key(path: Path) -> bytes | None:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != _KEY_LEN:
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
            return None  # someone else's, or readable by others: not a secret
        data = os.read(fd, _KEY_LEN + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == _KEY_LEN else None


def _create_key(path: Path) -> bytes | None:
    """Write a fresh key next to `path` and link it into place; the first process to link wins."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cache-key-")  # mode 0600
    except OSError:
        return None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(_KEY_LEN))
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won the race: use its key
            except OSError:  # no hard links here: rename, unless a key appeared meanwhile
                if not os.path.lexists(path):
                    os.replace(tmp, path)
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    except OSError:
        return None
    return _read_key(path)


@lru_cache(maxsize=8)
def _secret_at(path: Path) -> bytes | None:
    return _read_key(path) if os.path.lexists(path) else _create_key(path)


def load_secret(project_dir: Path | None = None) -> bytes | None:
    """This machine's cache key, created on first use; None when there is none to be had."""
    path = key_path()
    if path is None:
        return None
    if project_dir is not None:
        try:
            if path.resolve().is_relative_to(Path(project_dir).resolve()):
                return None  # a key the repository could have supplied authenticates nothing
        except OSError:
            return None
    return _secret_at(path)


# ---- encoding -------------------------------------------------------------------------------


def _enc(v: Any) -> Any:
    t = type(v)
    if t is str or t is bool or v is None:
        return v
    if t is int:
        return v if -_I64 <= v < _I64 else [_BIG_INT, str(v)]
    if t is float:
        return v if math.isfinite(v) else [_FLOAT, repr(v)]
    if t is list:
        return [_LIST, *map(_enc, v)]
    if t is tuple:
        return [_PAIR if len(v) == 2 else _TUPLE, *map(_enc, v)]
    tag = _NODE_TAG.get(t)
    if tag is not None:
        out: list[Any] = [tag]
        for name in t._fields():
            x = getattr(v, name)
            out.append(list(x) if name in _POS_FIELDS else _enc(x))
        return out
    raise TypeError(f"cannot cache a {t.__name__}")


def encode(tree: A.File) -> bytes:
    return orjson.dumps(_enc(tree))


# Decoding is a table from tag to builder; the only names in it are ours. Builders are
# unrolled for the common arities (Literal, Attribute, Traversal... are one or two fields
# after `pos`) because a warm `validate` spends most of its time here.
_Builder = Callable[[list[Any]], Any]
_TABLE: list[_Builder] = []


def _setters(cls: type[A.Node]) -> list[Callable[[Any, Any], None]]:
    """The slots' own descriptors' setters, in `_fields()` order (twice as fast as setattr)."""
    out = []
    for name in cls._fields():
        desc = getattr(cls, name)
        assert isinstance(desc, types.MemberDescriptorType), (cls, name)
        out.append(desc.__set__)
    return out


def _node_builder(cls: type[A.Node]) -> _Builder:
    new = object.__new__
    table = _TABLE
    fields = cls._fields()
    assert fields[0] == "pos"
    n = len(fields) + 1
    setters = _setters(cls)
    set_pos = setters[0]
    if n == 3 and fields[1] not in _POS_FIELDS:
        set_a = setters[1]

        def build1(x: list[Any]) -> A.Node:
            _, p, v = x  # the wrong length raises ValueError: malformed
            o = new(cls)
            set_pos(o, tuple(p))
            set_a(o, table[v[0]](v) if type(v) is list else v)
            return o

        return build1
    if n == 4 and not _POS_FIELDS.intersection(fields[1:]):
        set_a, set_b = setters[1:]

        def build2(x: list[Any]) -> A.Node:
            _, p, v, w = x
            o = new(cls)
            set_pos(o, tuple(p))
            set_a(o, table[v[0]](v) if type(v) is list else v)
            set_b(o, table[w[0]](w) if type(w) is list else w)
            return o

        return build2
    plan = tuple(zip(setters, [name in _POS_FIELDS for name in fields]))

    def build(x: list[Any]) -> A.Node:
        if len(x) != n:
            raise _Malformed(cls.__name__)
        o = new(cls)
        for (set_, is_pos), v in zip(plan, x[1:]):
            if is_pos:
                set_(o, tuple(v))
            else:
                set_(o, table[v[0]](v) if type(v) is list else v)
        return o

    return build


def _list(x: list[Any]) -> list[Any]:
    # a loop, not a comprehension: on 3.11 the comprehension is one more frame per list
    t = _TABLE
    out = x[1:]
    i = 0
    for v in out:
        if type(v) is list:
            out[i] = t[v[0]](v)
        i += 1
    return out


def _tuple(x: list[Any]) -> tuple[Any, ...]:
    return tuple(_list(x))


def _pair(x: list[Any]) -> tuple[Any, Any]:
    """A 2-tuple: traversal steps ("a", name) / ("i", expr) and object items (key, value)."""
    _, v, w = x
    t = _TABLE
    return (t[v[0]](v) if type(v) is list else v, t[w[0]](w) if type(w) is list else w)


def _big_int(x: list[Any]) -> int:
    if len(x) != 2 or type(x[1]) is not str:
        raise _Malformed("I")
    return int(x[1])


def _special_float(x: list[Any]) -> float:
    if len(x) != 2 or x[1] not in ("inf", "-inf", "nan"):
        raise _Malformed("F")
    return float(x[1])


_TABLE.extend(_node_builder(cls) for cls in _NODE_CLASSES)
_TABLE.extend((_list, _tuple, _pair, _big_int, _special_float))
assert len(_TABLE) == _FLOAT + 1


def decode(payload: bytes) -> A.File:
    """Payload -> File; raises _Malformed (and never runs anything) when it is not our tree."""
    try:
        data = orjson.loads(payload)
        tree = _TABLE[data[0]](data) if type(data) is list and data and data[0] == 0 else None
    except (LookupError, ValueError, TypeError, RecursionError) as e:
        raise _Malformed(type(e).__name__) from None
    if type(tree) is not A.File:
        raise _Malformed("root")
    return tree


# ---- the cache ------------------------------------------------------------------------------


class ParseCache:
    """Get/put ASTs by file text. Without a secret (or a directory) the cache is off; every
    failure to read, verify, decode or write is a silent miss."""

    def __init__(self, directory: Path | None, secret: bytes | None = None) -> None:
        self.directory = directory if secret is not None else None
        self._secret = secret or b""
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_project(cls, directory: Path | None, project_dir: Path | None = None) -> ParseCache:
        """A cache in `directory` keyed by this machine's secret (off when there is none)."""
        if directory is None:
            return cls(None)
        return cls(directory, load_secret(project_dir))

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def key(self, content: bytes) -> str:
        return hmac.new(self._secret, b"name\0" + _salt() + content, hashlib.sha256).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}{_SUFFIX}"

    def _mac(self, key: str, payload: bytes) -> bytes:
        m = hmac.new(self._secret, b"entry\0", hashlib.sha256)
        m.update(key.encode())
        m.update(b"\0")
        m.update(payload)
        return m.digest()

    def _read(self, path: Path) -> bytes | None:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_ENTRY:
                return None  # a fifo, device or huge file planted in the cache
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read(_MAX_ENTRY + 1)
        except OSError:
            return None
        finally:
            os.close(fd)

    def get(self, key: str) -> A.File | None:
        if self.directory is None:
            return None
        tree = None
        data = self._read(self._path(key))
        head = len(MAGIC) + _MAC_LEN
        if data is not None and len(data) > head and data.startswith(MAGIC):
            payload = data[head:]
            if hmac.compare_digest(data[len(MAGIC) : head], self._mac(key, payload)):
                try:
                    tree = decode(payload)
                except _Malformed:
                    tree = None  # authentic but not our shape: an incompatible writer
        if tree is None:
            self.misses += 1
            return None
        self.hits += 1
        return tree

    def put(self, key: str, tree: A.File) -> None:
        if self.directory is None:
            return
        try:
            payload = encode(tree)
        except (TypeError, ValueError, RecursionError):
            return  # something we do not know how to store as data: just do not cache it
        data = MAGIC + self._mac(key, payload) + payload
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=_SUFFIX)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a read-only project still works, just without a cache
