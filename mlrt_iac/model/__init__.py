"""Typed schemas of every resource block and the checks run on them at plan time.

The engine calls `validate_instances(instances, providers)`; the rest is exported for the
plan (computed attributes), providers (families, names, egress) and the CLI (describe_type).
"""

from __future__ import annotations

from .cross import cross_check, instance_name
from .describe import ArgumentInfo, describe_type
from .families import BUILTIN_FAMILIES, FamilyCatalog, InstanceFamily, build_catalog, parse_family
from .names import default_name, normalize_name
from .netrules import effective_egress, parse_host_port, parse_ipv4
from .pools import default_active_nodes, node_count_problems
from .schemas import (
    RESOURCE_MODELS,
    ComputePool,
    Dataset,
    ExternalAccessIntegration,
    ImageRepository,
    NetworkRule,
    ResourceModel,
    Scaling,
    Service,
    Training,
    computed_attributes,
)
from .validate import validate_instance, validate_instances

__all__ = [
    "ArgumentInfo",
    "BUILTIN_FAMILIES",
    "ComputePool",
    "Dataset",
    "ExternalAccessIntegration",
    "FamilyCatalog",
    "ImageRepository",
    "InstanceFamily",
    "NetworkRule",
    "RESOURCE_MODELS",
    "ResourceModel",
    "Scaling",
    "Service",
    "Training",
    "build_catalog",
    "computed_attributes",
    "cross_check",
    "default_active_nodes",
    "default_name",
    "describe_type",
    "effective_egress",
    "instance_name",
    "node_count_problems",
    "normalize_name",
    "parse_family",
    "parse_host_port",
    "parse_ipv4",
    "validate_instance",
    "validate_instances",
]
