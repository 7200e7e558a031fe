"""Building ResourceInstance objects the way the config layer hands them over."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlrt_iac.config.instances import ProviderConfig, ResourceInstance
from mlrt_iac.diagnostics import Diagnostic, Diagnostics, SourceRange
from mlrt_iac.model import ResourceModel, validate_instances

FILE = "main.hcl"


def make(
    type_: str,
    name: str,
    attrs: dict[str, Any],
    line: int = 1,
    attr_lines: dict[str, int] | None = None,
    deps: Iterable[str] = (),
    key: int | str | None = None,
    module: str = "",
    provider: str = "local",
) -> ResourceInstance:
    """An instance whose block header is on `line` and whose attributes sit on `attr_lines`."""
    suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
    base = f"{type_}.{name}{suffix}"
    address = f"{module}.{base}" if module else base
    ranges = {k: SourceRange.at(FILE, v, 3) for k, v in (attr_lines or {}).items()}
    return ResourceInstance(
        address=address,
        type=type_,
        name=name,
        index_key=key,
        module_address=module,
        provider=provider,
        attributes=attrs,
        range=SourceRange.at(FILE, line),
        attribute_ranges=ranges,
        depends_on=set(deps),
    )


def provider(name: str, attrs: dict[str, Any], line: int = 1) -> ProviderConfig:
    return ProviderConfig(name=name, alias=None, attributes=attrs, range=SourceRange.at(FILE, line))


def run(
    *instances: ResourceInstance,
    providers: dict[str, ProviderConfig] | None = None,
) -> tuple[dict[str, Any], Diagnostics]:
    """Validate; models typed Any so tests can read type-specific fields without casts."""
    models: dict[str, ResourceModel]
    models, diags = validate_instances(list(instances), providers, cross=True)
    return dict(models), diags


def only(diags: Diagnostics, summary: str) -> Diagnostic:
    """The single diagnostic with this summary (fails listing all of them otherwise)."""
    found = [d for d in diags if d.summary == summary]
    assert len(found) == 1, [(d.summary, d.detail) for d in diags]
    return found[0]


def line_of(d: Diagnostic) -> int:
    assert d.range is not None
    return d.range.start.line


POOL = {"instance_family": "CPU_X64_S", "min_nodes": 1, "max_nodes": 2}
GPU_POOL = {"instance_family": "GPU_NV_M", "min_nodes": 1, "max_nodes": 2}


def training(pool: str = "cpu", **extra: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "compute_pool": {"name": pool},
        "framework": "xgboost",
        "dataset": {"train": {"source": "data/train.parquet", "label_col": "y"}},
    }
    attrs.update(extra)
    return attrs
