"""OCI image layout directories (image-spec "image-layout"): read a tagged image, add blobs and
point a tag at a manifest. Blobs land under a temporary name and are renamed into place, and
index.json is replaced atomically last, so a failed build leaves no half-written image."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from mlrt_iac.errors import PermanentError

REF_NAME = "org.opencontainers.image.ref.name"


def blob_path(root: Path, digest: str) -> Path:
    algo, _, hexpart = digest.partition(":")
    return root / "blobs" / algo / hexpart


def read_index(root: Path) -> dict[str, object]:
    try:
        index = json.loads((root / "index.json").read_text())
    except FileNotFoundError:
        return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    except (OSError, ValueError) as exc:
        raise PermanentError(f"Cannot read the OCI layout index {root / 'index.json'}", str(exc)) from exc
    if not isinstance(index, dict):
        raise PermanentError(f"{root / 'index.json'} is not an OCI image index", "Expected a JSON object.")
    return index


def find(root: Path, tag: str | None, digest: str | None) -> dict[str, object]:
    """The index.json descriptor tagged `tag` (or with `digest`)."""
    manifests = read_index(root).get("manifests") or []
    for desc in manifests:  # type: ignore[attr-defined]
        annotations = desc.get("annotations") or {}
        if (digest and desc.get("digest") == digest) or (not digest and annotations.get(REF_NAME) == tag):
            return dict(desc)
    if digest and blob_path(root, digest).is_file():
        return {"digest": digest, "mediaType": ""}
    raise PermanentError(
        f"Image oci:{root}:{tag or digest} not found",
        f"{root}/index.json has no manifest {'tagged ' + tag if tag else digest}.",
    )


def read_blob(root: Path, digest: str) -> bytes:
    try:
        return blob_path(root, digest).read_bytes()
    except OSError as exc:
        raise PermanentError(f"Blob {digest} missing from the OCI layout {root}", str(exc)) from exc


def ensure_layout(root: Path) -> None:
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    marker = root / "oci-layout"
    if not marker.exists():
        _atomic_write(marker, b'{"imageLayoutVersion":"1.0.0"}')


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def put_blob(root: Path, digest: str, source: Path | bytes) -> int:
    """Add a blob unless present (hard link when on the same filesystem, else a copy); the
    bytes written, 0 when it was there already."""
    dest = blob_path(root, digest)
    if dest.is_file():
        return 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, bytes):
        _atomic_write(dest, source)
        return len(source)
    tmp = dest.parent / f".tmp-{dest.name}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest.stat().st_size


def tag_manifest(root: Path, tag: str, descriptor: dict[str, object]) -> None:
    """Point `tag` at the manifest: one index.json entry per tag, written atomically."""
    index = read_index(root)
    kept = [
        d
        for d in (index.get("manifests") or [])  # type: ignore[attr-defined]
        if (d.get("annotations") or {}).get(REF_NAME) != tag
    ]
    entry = {**descriptor, "annotations": {REF_NAME: tag}}
    index["manifests"] = [*kept, entry]
    _atomic_write(root / "index.json", json.dumps(index, indent=2).encode())
