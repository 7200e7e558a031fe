"""The dependency graph of mlrt (`Digraph`), in its two uses: the static graph of declarations
that orders evaluation (`evaluate`), and the graph of resource instances that orders apply and
destroy and that `mlrt graph` draws (`build_graph`, `to_dot`)."""

from .dag import ResourceGraph, build_graph, to_dot
from .digraph import Digraph
from .walk import evaluate

__all__ = ["Digraph", "ResourceGraph", "build_graph", "evaluate", "to_dot"]
