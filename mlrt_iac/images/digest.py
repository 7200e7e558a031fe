"""The plan-time digest of an image's inputs, computed without building, running pip or the
network, per part, so a plan can say which part changed ("image inputs changed: source").

File parts hash content, not stat data: a `touch` or a fresh clone changes nothing. Content
hashes are found by (path, size, mtime, inode, device), in the caller's persistent
`FileHashCache` when given (the providers pass the project's), else in a per-process memo.

Requirement strings count as written: an unpinned "numpy>=1.26" keeps its digest when a new numpy
is released, and the layer cache keeps what it resolved to the first time (pin versions, or
clear the cache, to move on). Where pip fetches from is not part of the digest (it is part of
the layer cache's key).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mlrt_iac.images.files import File, model_files, runtime_files, source_files
from mlrt_iac.images.pins import framework_requirement, runtime_requirements
from mlrt_iac.images.requirements import normalised_set
from mlrt_iac.images.types import ImageInputs

if TYPE_CHECKING:
    from mlrt_iac.runtime.content_hashes import FileHashCache

PARTS = ("base", "pip_requirements", "framework", "runtime", "source", "model", "config")
# Bumped when the layout of mlrt's layers changes, so old digests stop matching.
FORMAT = "mlrt-image-v1"
_MEMO: dict[str, tuple[int, int, int, int, str]] = {}


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _memo_hashes(paths: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in paths:
        st = os.stat(path)
        key = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
        hit = _MEMO.get(path)
        if hit is not None and hit[:4] == key:
            out[path] = hit[4]
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        out[path] = digest.hexdigest()
        _MEMO[path] = (*key, out[path])
    return out


def files_digest(files: list[File], cache: FileHashCache | None = None) -> str:
    """Digest of (layer path, content hash, executable bit) for each file."""
    paths = [full for _, full in files]
    hashes = cache.local_hashes(paths) if cache is not None else _memo_hashes(paths)
    rows = [[rel, hashes[full], os.access(full, os.X_OK)] for rel, full in files]
    return _sha256(_canonical(rows))


def input_parts(inputs: ImageInputs, *, hash_cache: FileHashCache | None = None) -> dict[str, str]:
    """One digest per part of the inputs (keys: PARTS); an absent part is ""."""
    runtime = ""
    if inputs.include_runtime:
        runtime = _sha256(_canonical([runtime_requirements(), files_digest(runtime_files(), hash_cache)]))
    framework = framework_requirement(inputs.framework, inputs.gpu) or ""
    parts = {
        "base": _base_part(inputs.base),
        "pip_requirements": _sha256(_canonical(normalised_set(inputs.pip_requirements)))
        if inputs.pip_requirements
        else "",
        "framework": framework,
        "runtime": runtime,
        "source": files_digest(source_files(inputs.source_dir, inputs.source_excludes), hash_cache)
        if inputs.source_dir is not None
        else "",
        "model": files_digest(model_files(inputs.model_dir), hash_cache)
        if inputs.model_dir is not None
        else "",
        "config": _sha256(_canonical({"env": sorted(inputs.env), "cmd": list(inputs.entrypoint)})),
    }
    if hash_cache is not None:
        hash_cache.save()
    return parts


def _base_part(base: str) -> str:
    """The base reference as written; `scratch` stands for this machine's Python and
    architecture, so they are part of it."""
    text = base.strip()
    if text != "scratch":
        return text
    import platform
    import sys

    return f"scratch python{sys.version_info.major}.{sys.version_info.minor} {platform.machine().lower()}"


def inputs_digest(inputs: ImageInputs, *, hash_cache: FileHashCache | None = None) -> str:
    """ "sha256:..." of everything that decides the image (derived from `input_parts`)."""
    return digest_of_parts(input_parts(inputs, hash_cache=hash_cache))


def digest_of_parts(parts: Mapping[str, str]) -> str:
    return _sha256(_canonical({"format": FORMAT, **parts}))


def changed_inputs(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """The parts whose digests differ, in PARTS order (then any unknown keys, sorted)."""
    keys = [k for k in PARTS if k in old or k in new]
    keys += sorted((set(old) | set(new)) - set(PARTS))
    return [k for k in keys if old.get(k) != new.get(k)]
