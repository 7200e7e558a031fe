"""Names of the things a configuration declares, shared by the evaluator and the static graph.

A node is one declaration of one module (not of one module *instance*): a variable, a local, a
resource block, an output or a module call. `graph/` orders nodes; `config/` evaluates them.
"""

from __future__ import annotations

import json

from . import ast as A

NodeKey = tuple[tuple[str, ...], str, str]  # (module path, kind, name); kind: var local res out mod
# One reference of a node's expressions: the traversal, the node it names (None for context
# values such as each/count/path), and the file it is written in.
Ref = tuple[A.Traversal, NodeKey | None, str]

_PREFIX = {"var": "var.", "local": "local.", "res": "", "out": "output.", "mod": "module."}


def key_str(k: int | str) -> str:
    """An instance key as written in an address: `[0]` or `["a"]`."""
    return f"[{k}]" if isinstance(k, int) else f"[{json.dumps(k)}]"


def node_name(n: NodeKey) -> str:
    """How diagnostics name a node: `module.a.var.x`, `local.l`, `training.t`, `output.o`."""
    mp, kind, name = n
    return "".join(f"module.{p}." for p in mp) + _PREFIX[kind] + name
