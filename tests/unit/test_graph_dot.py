"""`mlrt graph` output is DOT that a real parser (pydot) reads back node for node, also for module
instance addresses, which hold double quotes (issue 14: `dot` rejected them)."""

from __future__ import annotations

import pydot
import pytest

from mlrt_iac.graph import build_graph, to_dot

POOL = 'module.team["fraud"].compute_pool.pool'
# pydot's parser uses pyparsing names that newer pyparsing deprecates: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SVC = 'module.team["fraud"].service.api'
ODD = 'module.x["back\\\\slash"].network_rule.r'


def _parsed(text: str) -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs and len(graphs) == 1
    return graphs[0]


def _unquote(name: str) -> str:
    assert name.startswith('"') and name.endswith('"')
    return name[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def test_module_addresses_survive_a_round_trip_through_a_dot_parser() -> None:
    g = build_graph([POOL, SVC, ODD], {SVC: [POOL]})
    dot = _parsed(to_dot(g))
    nodes = {_unquote(n.get_name()) for n in dot.get_nodes() if n.get_name() not in ("node", "edge")}
    assert nodes == {POOL, SVC, ODD}
    edges = {(_unquote(e.get_source()), _unquote(e.get_destination())) for e in dot.get_edges()}
    assert edges == {(POOL, SVC)}


def test_plan_graph_names_the_action_inside_the_box() -> None:
    g = build_graph([POOL, SVC], {SVC: [POOL]})
    dot = _parsed(to_dot(g, {POOL: "create", SVC: "replace"}))
    node = next(
        n for n in dot.get_nodes() if n.get_name() not in ("node", "edge") and _unquote(n.get_name()) == SVC
    )
    assert node.get("label") == '"' + SVC.replace('"', '\\"') + '\\n(replace)"'
    assert node.get("color") == '"orange"' and node.get("xlabel") is None
