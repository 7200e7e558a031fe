"""Dependency graphs of resource instances: order for plan/apply, reverse order for destroy."""

from .dag import ResourceGraph, build_graph, cycle_diagnostic, to_dot

__all__ = ["ResourceGraph", "build_graph", "cycle_diagnostic", "to_dot"]
