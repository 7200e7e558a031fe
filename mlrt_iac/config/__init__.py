"""The mlrt configuration language: HCL files -> evaluated resource instances.

Public API (see each function's docstring):

    load_config(directory, *, cache_dir=None) -> (Config, Diagnostics)
    gather_variable_inputs(config, cli_vars, var_files, environ) -> (dict, Diagnostics)
    default_resolver(instance) -> Mapping

Values flowing out: str, int/float, bool, None, list, dict, `HclSet` (list subclass for sets),
`ResourceRef` (dict subclass with `.address`, for a whole-resource reference), `values.UNKNOWN`,
`values.Sensitive`.

Evaluating a whole configuration needs its static graph, so the entry point is
`mlrt_iac.graph.evaluate` (this layer may not import `graph/`); here are the evaluators of each
kind of node (`evaluator.NodeEvaluator`) that it drives.
"""

from __future__ import annotations

from .evaluator import default_resolver
from .instances import (
    BackendConfig,
    EvaluatedConfig,
    Lifecycle,
    OutputValue,
    ProviderConfig,
    ResourceInstance,
    ResourceResolver,
    Settings,
)
from .loader import BLOCK_TYPES, RESOURCE_TYPES, Config, ModuleConfig, VariableDecl, load_config
from .meta import parse_duration
from .valueops import HclSet, ResourceRef
from .variables import gather_variable_inputs

__all__ = [
    "load_config",
    "gather_variable_inputs",
    "default_resolver",
    "Config",
    "ModuleConfig",
    "VariableDecl",
    "EvaluatedConfig",
    "ResourceInstance",
    "Lifecycle",
    "ProviderConfig",
    "BackendConfig",
    "OutputValue",
    "Settings",
    "ResourceResolver",
    "HclSet",
    "ResourceRef",
    "RESOURCE_TYPES",
    "BLOCK_TYPES",
    "parse_duration",
]
