"""Shared bits of the cache security tests: a tiny project, the CLI, and the attacker's view of
where the pickle-based cache (AST_SCHEMA "1") looked for entries."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

MLRT = [sys.executable, "-m", "mlrt_iac.cli.main"]

GOOD = 'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n  max_nodes       = 1\n}\n'
# a real error the cache must never hide: an unknown argument on line 3
BAD = 'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n  max_nodez       = 1\n}\n'


def write_project(d: Path, files: dict[str, str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def user_env(tmp: Path) -> dict[str, str]:
    """A private HOME and XDG cache for the CLI, so the tests never touch the real home."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CACHE_HOME": str(tmp / "xdg-cache"), "NO_COLOR": "1"}


def run_cli(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.pop("XDG_CACHE_HOME", None)
    full.update(env)
    return subprocess.run(
        [*MLRT, "-chdir", str(project), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
        stdin=subprocess.DEVNULL,
    )


# ---- the attack on the old cache ------------------------------------------------------------


def old_salt() -> bytes:
    """The salt of the pickle cache, copied as data: everything in it is public (the mlrt and
    python-hcl2 versions and grammar), which is what made entry names precomputable."""
    import hcl2

    try:
        from importlib.metadata import version

        mlrt_version = version("mlrt-iac")
    except Exception:
        mlrt_version = "dev"
    grammar = Path(hcl2.__file__).with_name("hcl2.lark")
    g = grammar.read_bytes() if grammar.exists() else b""
    hcl_version = getattr(getattr(hcl2, "version", None), "__version__", "") or ""
    h = hashlib.sha256()
    for part in (b"mlrt-parse", b"1", mlrt_version.encode(), hcl_version.encode(), g):
        h.update(part)
        h.update(b"\0")
    return h.digest()


def old_entry_paths(project: Path, text: str) -> list[Path]:
    """Where the old code looked for `text`'s AST: `validate`/`plan` use `.mlrt/cache/`,
    `load_config`'s default is `.mlrt/cache/parse/`."""
    key = hashlib.sha256(old_salt() + text.encode("utf-8")).hexdigest()
    return [
        project / ".mlrt" / "cache" / key[:2] / f"{key}.pickle",
        project / ".mlrt" / "cache" / "parse" / key[:2] / f"{key}.pickle",
    ]


class _Payload:
    """Unpickling this runs `exec(code)`: the attacker's entry."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (self.code,))


def evil_pickle(marker: Path) -> bytes:
    code = f"import os; open({str(marker)!r}, 'w').write('uid=%d' % os.getuid())"
    return pickle.dumps(_Payload(code))


# Every AST node class, plus the values JSON cannot hold natively (an int beyond 64 bits, an
# infinite float), tuples of steps and object items, empty lists and nested blocks.
RICH = r"""
top_level = 1
variable "m" {
  type    = map(string)
  default = { a = "x", "b c" = "y" }
}
locals {
  big      = 123456789012345678901234567890
  neg_big  = -123456789012345678901234567890
  huge     = 1e400
  frac     = 2.5
  flags    = [true, false, null]
  empty    = []
  tmpl     = "hello ${var.m["a"]} %{ if length(var.m) > 1 }many%{ else }few%{ endif }"
  loop     = "%{ for k, v in var.m }${k}=${v};%{ endfor }"
  doc      = <<-EOT
    line ${local.frac}
  EOT
  splat    = [{ id = 1 }][*].id
  splat2   = local.objs.*.id
  objs     = [{ id = 2 }]
  rel      = tolist(["a", "b"])[0]
  relattr  = merge({ k = 1 }, {}).k
  spread   = max([1, 2]...)
  ns       = provider::x::f(1)
  unary    = !true
  minus    = -local.frac
  arith    = (1 + 2) * 3 % 2 == 1 && true || false
  cond     = local.frac > 1 ? "big" : "small"
  listfor  = [for i, x in local.flags : x if x != null]
  mapfor   = { for k, v in var.m : v => k... if k != "" }
  index    = local.objs[0].id
}
block "one" "two" {
  inner {
    deep = local.big
  }
  inner {
  }
}
"""


def same(a: object, b: object) -> bool:
    """Structural equality of two ASTs, types included (the nodes have no __eq__)."""
    from mlrt_iac.config import ast as A

    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple))
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, A.Node):
        return all(same(getattr(a, f), getattr(b, f)) for f in a._fields())
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    return a == b


def node_classes(v: object, seen: set[type] | None = None) -> set[type]:
    from mlrt_iac.config import ast as A

    seen = set() if seen is None else seen
    if isinstance(v, (list, tuple)):
        for x in v:
            node_classes(x, seen)
    elif isinstance(v, A.Node):
        seen.add(type(v))
        for f in v._fields():
            node_classes(getattr(v, f), seen)
    return seen
