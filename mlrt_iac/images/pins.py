"""The packages an image gets besides the workload's own: mlrt runtime's third-party imports and
the framework, each pinned to the version installed where mlrt runs (the versions it was tested
with here), read from package metadata only."""

from __future__ import annotations

import re
from importlib import metadata

from mlrt_iac.errors import PermanentError

# What `mlrt_iac/runtime/**` imports from outside the standard library (frameworks aside);
# uvicorn with its extras for httptools and uvloop, which the inference server uses.
RUNTIME_DISTS: tuple[tuple[str, str], ...] = (
    ("numpy", ""),
    ("orjson", ""),
    ("pandas", ""),
    ("pyarrow", ""),
    ("pydantic", ""),
    ("starlette", ""),
    ("uvicorn", "[standard]"),
)
FRAMEWORK_DISTS = {"xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "torch"}


def _pinned(dist: str, extras: str = "") -> str:
    try:
        return f"{dist}{extras}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return f"{dist}{extras}"  # not installed here: the newest that fits the base's Python


def runtime_requirements() -> list[str]:
    """Pinned requirements for mlrt's runtime, e.g. ["numpy==2.4.6", ..., "uvicorn[standard]==0.54.0"]."""
    return [_pinned(dist, extras) for dist, extras in RUNTIME_DISTS]


# CPU-only builds published under their own name, same module and version: XGBoost's Linux wheel
# brings NCCL for multi-GPU training (about 500 MB in an image); xgboost-cpu is 6 MB.
CPU_DISTS = {"xgboost": "xgboost-cpu"}


def framework_requirement(framework: str | None, gpu: bool = False) -> str | None:
    """ "xgboost-cpu==3.2.0" for framework "xgboost" (the version installed here; "xgboost==3.2.0"
    with `gpu`); torch keeps its local label ("torch==2.13.0+cpu"), which only an index in pip's
    configuration that carries such builds (PyTorch's CPU index, a mirror, find-links) can
    satisfy."""
    if framework is None:
        return None
    dist = FRAMEWORK_DISTS.get(framework)
    if dist is None:
        raise PermanentError(
            f"Unsupported framework {framework!r}",
            f"Use one of {', '.join(sorted(FRAMEWORK_DISTS))}, or name the package in pip_requirements.",
        )
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError as exc:
        raise PermanentError(
            f"Framework {framework!r} is not installed where mlrt runs",
            f"The image pins {dist} to the version installed here; install it (pip install {dist}).",
        ) from exc
    return f"{dist if gpu else CPU_DISTS.get(dist, dist)}=={version}"


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else requirement
