"""Single-block rules that pydantic types cannot express: ranges between fields, the family
catalogue, value_list entries, framework-specific arguments and names.

Every check skips values that are UNKNOWN (they are checked again when known, at apply).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostic, error, warning
from ..values import UNKNOWN
from . import netrules
from .errors_map import attr_range
from .families import FamilyCatalog
from .names import default_name, name_problem, normalize_name
from .pools import default_active_nodes, node_count_problems
from .schemas import ComputePool, ExternalAccessIntegration, NetworkRule, ResourceModel, Service, Training

_ENTRYPOINT_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
_MODEL_CLASS_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
BOOSTED = ("xgboost", "lightgbm")

Check = Callable[[Any, ResourceInstance, FamilyCatalog], list[Diagnostic]]


def _int(v: Any) -> bool:
    return v is not UNKNOWN and v is not None


def check_name(model: ResourceModel, inst: ResourceInstance) -> list[Diagnostic]:
    """Fill in the default name and check it is a safe Kubernetes/Ray name."""
    raw = model.name
    if raw is UNKNOWN:
        return []
    written = raw is not None
    name = normalize_name(raw) if raw is not None else default_name(inst.name, inst.index_key)
    model.__dict__["name"] = name
    problem = name_problem(name)
    if problem is None:
        return []
    if written:
        return [
            error(
                "Invalid name",
                f'The name "{raw}" cannot be used for Kubernetes and Ray objects: {problem}. '
                "Use lowercase letters, digits and '-' (at most 63), starting with a letter.",
                attr_range(inst, ("name",)),
            )
        ]
    return [
        error(
            "Invalid name",
            f'The name "{name}" derived from the block label of {inst.address} cannot be used '
            f'for Kubernetes and Ray objects: {problem}. Set name = "..." (lowercase letters, '
            "digits and '-', at most 63, starting with a letter).",
            inst.range,
        )
    ]


_LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
RESERVED_LABEL_PREFIXES = ("app.kubernetes.io/managed-by", "mlrt.dev/")


def label_problem(key: str, value: object) -> str | None:
    """Why `key = value` is not a valid Kubernetes label (the rules of apimachinery's
    IsQualifiedName and IsValidLabelValue), or None when it is."""
    prefix, slash, name = key.rpartition("/")
    if not name or len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            f'the key "{key}" is not a valid label key: its name part must be 1-63 letters, digits, '
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f'the key "{key}" has a prefix that is not a DNS subdomain (lowercase, like example.com)'
    if key.startswith(RESERVED_LABEL_PREFIXES):
        return f'the key "{key}" is set by mlrt itself'
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_NAME.fullmatch(value):
        return (
            f'the value of "{key}" is not a valid label value: at most 63 letters, digits, '
            "'-', '_' or '.', starting and ending with a letter or digit (or empty)"
        )
    return None


def check_compute_pool(m: ComputePool, inst: ResourceInstance, catalog: FamilyCatalog) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if isinstance(m.labels, dict):
        for key, value in m.labels.items():
            why = label_problem(str(key), value) if value is not UNKNOWN else None
            if why:
                out.append(error("Invalid label", f"In labels, {why}.", attr_range(inst, ("labels", key))))
    fam_name = m.instance_family
    if isinstance(fam_name, str):
        fam = catalog.get(fam_name)
        if fam is None:
            out.append(
                error(
                    "Unknown instance family",
                    catalog.unknown_detail(fam_name),
                    attr_range(inst, ("instance_family",)),
                )
            )
        else:
            m.__dict__["instance_family"] = fam.name
    written = m.active_nodes  # a defaulted active_nodes is not checked against the range again
    if written is None and m.min_nodes is not UNKNOWN:
        m.__dict__["active_nodes"] = default_active_nodes(m.min_nodes, written)
    for attr, message in node_count_problems(m.min_nodes, m.max_nodes, written):
        out.append(error("Invalid value", message, attr_range(inst, (attr,))))
    return out


def check_network_rule(m: NetworkRule, inst: ResourceInstance, catalog: FamilyCatalog) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if m.mode == "INGRESS" and m.type == "HOST_PORT":
        out.append(
            error(
                "Invalid value",
                'An INGRESS network rule must have type = "IPV4": ingress is allowed by source '
                "address, not by host name.",
                attr_range(inst, ("type",)),
            )
        )
    if m.type is UNKNOWN or not isinstance(m.value_list, list):
        return out
    for i, entry, why in netrules.entry_problems(m.type, m.value_list):
        out.append(
            error(
                "Invalid network rule entry",
                f'Entry {i} of value_list, "{entry}", is not a valid {m.type} entry: {why}.',
                attr_range(inst, ("value_list", i)),
            )
        )
    if isinstance(m.mode, str):
        for i, entry, why in netrules.entry_risks(m.type, m.mode, m.value_list):
            out.append(
                warning(
                    "Broad or dangerous egress",
                    f'Entry {i} of value_list, "{entry}": {why}. Workloads that use this rule can reach '
                    "it; narrow the entry to the hosts and ports they need.",
                    attr_range(inst, ("value_list", i)),
                )
            )
    return out


def check_eai(
    m: ExternalAccessIntegration, inst: ResourceInstance, catalog: FamilyCatalog
) -> list[Diagnostic]:
    if isinstance(m.allowed_network_rules, list) and not m.allowed_network_rules:
        return [
            error(
                "Invalid value",
                "allowed_network_rules is empty: an integration must allow at least one "
                "network_rule. Add a reference such as network_rule.NAME.",
                attr_range(inst, ("allowed_network_rules",)),
            )
        ]
    return []


def check_training(m: Training, inst: ResourceInstance, catalog: FamilyCatalog) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    fw = m.framework
    if _int(m.keep_versions) and m.keep_versions < 1:
        out.append(
            error(
                "Invalid value",
                f"{inst.address} must keep at least one model version: keep_versions = "
                f"{m.keep_versions}. The newest version is the one its services serve; set "
                "keep_versions = 1 or more (default 3).",
                attr_range(inst, ("keep_versions",)),
            )
        )
    if fw == "pytorch" and m.entrypoint is None:
        out.append(
            error(
                "Missing required argument",
                'The argument "entrypoint" is required when framework is "pytorch": write '
                'entrypoint = "module:function" naming your training function.',
                inst.range,
            )
        )
    if isinstance(m.entrypoint, str) and not _ENTRYPOINT_RE.fullmatch(m.entrypoint):
        out.append(
            error(
                "Invalid value",
                f'entrypoint "{m.entrypoint}" is not of the form "module:function" '
                '(for example "train:main" or "pkg.train:run").',
                attr_range(inst, ("entrypoint",)),
            )
        )
    for arg in ("num_boost_round", "n_estimators"):
        if fw == "pytorch" and getattr(m, arg) is not None:
            out.append(
                error(
                    "Unsupported argument",
                    f'The argument "{arg}" applies only to xgboost and lightgbm trainings; '
                    "for pytorch pass epochs and the like in hyper_params.",
                    attr_range(inst, (arg,)),
                )
            )
    if _int(m.num_boost_round) and _int(m.n_estimators):
        out.append(
            error(
                "Conflicting arguments",
                '"num_boost_round" and "n_estimators" are the same setting; keep only one.',
                attr_range(inst, ("n_estimators",)),
            )
        )
    datasets = m.dataset if isinstance(m.dataset, dict) else {}
    if fw in BOOSTED and m.dataset is not UNKNOWN and not datasets:
        out.append(
            error(
                "Missing required block",
                f'A {fw} training needs at least one dataset "NAME" {{ source = ... '
                "label_col = ... } block.",
                inst.range,
            )
        )
    for label, ds in datasets.items():
        if ds is UNKNOWN:
            continue
        if fw in BOOSTED and ds.label_col is None:
            out.append(
                error(
                    "Missing required argument",
                    f'The argument "label_col" is required in dataset "{label}" of a {fw} '
                    "training, but no definition was found.",
                    attr_range(inst, ("dataset", label)),
                )
            )
        if isinstance(ds.source, list) and not ds.source:
            out.append(
                error(
                    "Invalid value",
                    f'dataset "{label}": source is empty; name a file, directory or glob.',
                    attr_range(inst, ("dataset", label, "source")),
                )
            )
        if (
            isinstance(ds.input_cols, list)
            and isinstance(ds.label_col, str)
            and ds.label_col in ds.input_cols
        ):
            out.append(
                error(
                    "Invalid value",
                    f'dataset "{label}": the label column "{ds.label_col}" is also listed in '
                    "input_cols; remove it from input_cols.",
                    attr_range(inst, ("dataset", label, "input_cols")),
                )
            )
    return out


def check_service(m: Service, inst: ResourceInstance, catalog: FamilyCatalog) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if isinstance(m.functions, list):
        if not m.functions:
            out.append(
                error(
                    "Invalid value",
                    'functions is empty; list at least one, e.g. ["predict"].',
                    attr_range(inst, ("functions",)),
                )
            )
        for i, fn in enumerate(m.functions):
            if isinstance(fn, str) and not _IDENT_RE.fullmatch(fn):
                out.append(
                    error(
                        "Invalid value",
                        f'Function "{fn}" (element {i} of functions) is not a valid method name.',
                        attr_range(inst, ("functions", i)),
                    )
                )
    if isinstance(m.model_class, str) and not _MODEL_CLASS_RE.fullmatch(m.model_class):
        out.append(
            error(
                "Invalid value",
                f'model_class "{m.model_class}" is not of the form "module:Name" (for example '
                '"net:Net" for a class Net in net.py of the project, or "pkg.models:load").',
                attr_range(inst, ("model_class",)),
            )
        )
    if isinstance(m.model, str) and not m.model.strip():
        out.append(
            error(
                "Invalid value",
                "model is empty; give a training's model_uri or a path.",
                attr_range(inst, ("model",)),
            )
        )
    return out


TYPE_CHECKS: dict[str, Check] = {
    "compute_pool": check_compute_pool,
    "network_rule": check_network_rule,
    "external_access_integration": check_eai,
    "training": check_training,
    "service": check_service,
}


def semantic_checks(model: ResourceModel, inst: ResourceInstance, catalog: FamilyCatalog) -> list[Diagnostic]:
    out = check_name(model, inst)
    check = TYPE_CHECKS.get(inst.type)
    if check is not None:
        out.extend(check(model, inst, catalog))
    return out
