"""The base image, by reference: only its manifest and config (small JSON) are read, never its
layers. Manifest lists / OCI indexes resolve to linux on this machine's architecture (else
linux/amd64). The base's Python comes from its config: the `PYTHON_VERSION` variable official
python images set, else the `org.mlrt.python` label ("3.11")."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.images import layout
from mlrt_iac.images.reference import ImageRef, LayoutRef, RegistryRef, ScratchRef
from mlrt_iac.images.registry import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, Registry

PYTHON_LABEL = "org.mlrt.python"
SITE_LABEL = "org.mlrt.site-packages"
GLIBC_LABEL = "org.mlrt.glibc"  # newest manylinux glibc the base supports, "2.36"
DEFAULT_GLIBC = (2, 36)  # Debian 12, what the official python images are built on
_DOCKER_LAYER = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
}
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_PIP_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}


@dataclass
class BaseImage:
    ref: ImageRef
    digest: str  # the manifest's digest (of the platform's manifest for an index)
    config: dict[str, Any]
    layers: list[dict[str, Any]]  # descriptors, with OCI media types
    registry: Registry | None  # where its blobs are, for a registry base

    @property
    def python(self) -> str:
        """ "3.11", or a PermanentError when the config does not say."""
        cfg = self.config.get("config") or {}
        for item in cfg.get("Env") or []:
            name, _, value = str(item).partition("=")
            if name == "PYTHON_VERSION" and (m := re.match(r"(\d+)\.(\d+)", value)):
                return f"{m.group(1)}.{m.group(2)}"
        label = (cfg.get("Labels") or {}).get(PYTHON_LABEL, "")
        if m := re.fullmatch(r"(\d+)\.(\d+)(\.\d+)?", str(label)):
            return f"{m.group(1)}.{m.group(2)}"
        raise PermanentError(
            f"Base image {self.ref} does not say which Python it has",
            f"Its config has neither a PYTHON_VERSION environment variable (as official python images"
            f" set) nor a {PYTHON_LABEL} label; add `LABEL {PYTHON_LABEL}=3.11` to the base image.",
        )

    @property
    def architecture(self) -> str:
        return str(self.config.get("architecture") or "amd64")

    def pip_platforms(self) -> list[str]:
        """pip --platform tags: manylinux for the base's architecture, newest glibc first."""
        arch = _PIP_ARCH.get(self.architecture)
        if arch is None:
            raise PermanentError(
                f"Base image {self.ref} is for {self.architecture}",
                "mlrt installs packages for amd64 and arm64 bases only.",
            )
        major, minor = DEFAULT_GLIBC
        label = ((self.config.get("config") or {}).get("Labels") or {}).get(GLIBC_LABEL, "")
        if m := re.fullmatch(r"2\.(\d+)", str(label)):
            minor = int(m.group(1))
        tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 16, -1)]
        return tags + [f"manylinux2014_{arch}"]

    @property
    def site_packages(self) -> str:
        label = ((self.config.get("config") or {}).get("Labels") or {}).get(SITE_LABEL)
        return str(label) if label else f"/usr/local/lib/python{self.python}/site-packages"


def _choose(index: dict[str, Any], where: str) -> str:
    wanted = _ARCH.get(platform.machine().lower(), "amd64")
    manifests = index.get("manifests") or []
    for arch in (wanted, "amd64"):
        for desc in manifests:
            plat = desc.get("platform") or {}
            if plat.get("os") == "linux" and plat.get("architecture") == arch:
                return str(desc["digest"])
    raise PermanentError(
        f"Base image {where} has no linux/{wanted} or linux/amd64 image", json.dumps(manifests)[:500]
    )


def _oci_layers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for desc in manifest.get("layers") or []:
        d = {k: desc[k] for k in ("mediaType", "digest", "size") if k in desc}
        d["mediaType"] = _DOCKER_LAYER.get(d.get("mediaType", ""), d.get("mediaType", ""))
        out.append(d)
    return out


def scratch() -> BaseImage:
    """The empty base: no layers, this machine's Python version and architecture."""
    import sys

    config = {
        "architecture": _ARCH.get(platform.machine().lower(), "amd64"),
        "os": "linux",
        "config": {"Labels": {PYTHON_LABEL: f"{sys.version_info.major}.{sys.version_info.minor}"}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    return BaseImage(ScratchRef(), "", config, [], None)


def resolve(ref: ImageRef, registry: Registry | None) -> BaseImage:
    """Fetch the base's manifest and config; never its layers."""
    if isinstance(ref, ScratchRef):
        return scratch()
    if isinstance(ref, LayoutRef):
        root = Path(ref.path)
        desc = layout.find(root, ref.tag, ref.digest)
        digest = str(desc["digest"])
        manifest = json.loads(layout.read_blob(root, digest))
        if manifest.get("mediaType") == OCI_INDEX or "manifests" in manifest:
            digest = _choose(manifest, str(ref))
            manifest = json.loads(layout.read_blob(root, digest))
        config = json.loads(layout.read_blob(root, manifest["config"]["digest"]))
        return BaseImage(ref, digest, config, _oci_layers(manifest), None)
    assert isinstance(ref, RegistryRef) and registry is not None
    body, media_type = registry.get_manifest(ref.repository, ref.digest or str(ref.tag))
    manifest = json.loads(body)

    digest = ref.digest or "sha256:" + hashlib.sha256(body).hexdigest()
    if media_type in (OCI_INDEX, DOCKER_LIST) or "manifests" in manifest:
        digest = _choose(manifest, str(ref))
        body, media_type = registry.get_manifest(ref.repository, digest)
        manifest = json.loads(body)
    if media_type not in ("", DOCKER_MANIFEST) and "config" not in manifest:
        raise PermanentError(f"Base image {ref} has an unsupported manifest", f"media type {media_type}")
    config = json.loads(registry.get_blob(ref.repository, manifest["config"]["digest"]))
    return BaseImage(ref, digest, config, _oci_layers(manifest), registry)
