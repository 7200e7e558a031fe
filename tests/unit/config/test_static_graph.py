"""The static graph's seams: deterministic cycle reports and -target address checks."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.graph.digraph import Digraph

from .helpers import run, summaries


def test_cycle_starts_at_first_declared_block(tmp_path: Path) -> None:
    text = (
        'service "c" {\n  model = training.a.model_uri\n}\n'
        'training "a" {\n  comment = service.b.name\n}\n'
        'service "b" {\n  model = service.c.name\n}\n'
    )
    _, diags = run(tmp_path, {"main.hcl": text})
    cyc = [d for d in diags.errors() if d.summary.startswith("Cycle: ")]
    assert [d.summary for d in cyc] == ["Cycle: service.c -> training.a -> service.b -> service.c"]
    assert [r.start.line for r in cyc[0].related] == [2, 5, 8]


def test_digraph_order_and_cycles() -> None:
    g: Digraph[str, None] = Digraph()
    for n, deps in {"a": [], "b": ["a"], "c": ["d"], "d": ["c"], "e": ["e"], "f": ["c"]}.items():
        g.add_node(n).update(dict.fromkeys(deps))
    order, stuck = g.order()
    assert order == ["a", "b"]
    assert stuck == {"c", "d", "e", "f"}
    assert g.cycles(stuck) == [["c", "d", "c"], ["e", "e"]]
    assert g.descendants(["a"]) == {"a", "b"}
    assert g.find_cycle() == ["c", "d", "c"]


def test_target_of_unknown_type_or_negative_key_is_invalid(tmp_path: Path) -> None:
    files = {"main.hcl": 'training "t" {\n  count = 2\n}\n'}
    for bad in ("trainin.t", "training.t[-1]", "training", "module."):
        _, diags = run(tmp_path, files, targets=[bad])
        assert summaries(diags) == ["Invalid target address"], bad
    ev, diags = run(tmp_path, files, targets=["training.t[1]"])
    assert not diags.has_errors
    assert [i.address for i in ev.instances] == ["training.t[1]"]
