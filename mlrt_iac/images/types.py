"""The image builder's value types: what decides an image, where it goes, what came out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ImageInputs:
    """Everything that decides an image. Two equal inputs give the same image digest."""

    base: str  # "host:port/repo:tag", "host/repo@sha256:...", or "oci:/abs/layout/dir:tag"
    pip_requirements: tuple[str, ...] = ()
    framework: str | None = None  # "xgboost" | "lightgbm" | "pytorch" | None
    gpu: bool = (
        False  # the workload uses GPUs: the framework's CUDA build (else its CPU build where one exists)
    )
    include_runtime: bool = True
    source_dir: Path | None = None
    source_excludes: tuple[str, ...] = ()
    model_dir: Path | None = None
    env: tuple[tuple[str, str], ...] = ()
    entrypoint: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for one registry; without them the Docker config file is read."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class OciLayoutTarget:
    """An OCI image layout directory (what `skopeo copy oci:DIR:TAG ...` reads)."""

    path: Path
    tag: str


@dataclass(frozen=True)
class RegistryTarget:
    """A repository in a registry spoken to over the OCI distribution API."""

    repository: str  # "127.0.0.1:5000/team/svc"
    tag: str
    insecure: bool = False  # plain http
    auth: RegistryAuth | None = None


Target = OciLayoutTarget | RegistryTarget


@dataclass(frozen=True)
class LayerInfo:
    """One of mlrt's layers in a built image; `reused`: the target already had it (not uploaded,
    not written)."""

    name: str
    digest: str
    size: int
    reused: bool


@dataclass(frozen=True)
class BuiltImage:
    """A pushed image, pinned by digest."""

    reference: str  # "127.0.0.1:5000/team/svc@sha256:..." or "oci:/path@sha256:..."
    digest: str
    bytes_pushed: int
    layers: list[LayerInfo]
    pip_ran: bool
