"""build_image: the base image by reference plus mlrt's layers (Python packages, the runtime, the
entrypoint source, the model), pushed to a registry or written into an OCI layout.

Every layer is built (or found in the layer cache) before anything is pushed, so a failing pip
install pushes nothing and writes nothing into the layout. Blobs the target already has are not
uploaded (HEAD first); base layers reach a registry target by cross-repository mount on the same
registry, else by a streamed registry-to-registry copy, and are never read otherwise.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.images import layout
from mlrt_iac.images.auth import credentials_for
from mlrt_iac.images.base import BaseImage, resolve
from mlrt_iac.images.cache import LayerCache, default_cache_dir
from mlrt_iac.images.digest import FORMAT, digest_of_parts, input_parts
from mlrt_iac.images.files import model_files, runtime_files, source_files
from mlrt_iac.images.pins import framework_requirement, runtime_requirements
from mlrt_iac.images.pip_install import (
    closure,
    dist_listing,
    installed_size,
    marker_env,
    owned_files,
    read_dists,
    run_pip,
)
from mlrt_iac.images.pipconfig import pip_settings
from mlrt_iac.images.reference import LayoutRef, RegistryRef, parse_reference, split_repository
from mlrt_iac.images.registry import OCI_MANIFEST, Registry, is_loopback
from mlrt_iac.images.requirements import normalised_set, validate_requirements
from mlrt_iac.images.tarlayer import Blob, epoch, write_layer
from mlrt_iac.images.types import BuiltImage, ImageInputs, LayerInfo, OciLayoutTarget, RegistryTarget, Target

if TYPE_CHECKING:
    from mlrt_iac.runtime.content_hashes import FileHashCache

APP_DIR = "/mlrt/app"
MODEL_DIR = "/mlrt/model"
INPUTS_LABEL = "org.mlrt.inputs"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
BIG_DIST_BYTES = 64 << 20  # installed size over which a distribution gets a layer of its own
Progress = Callable[[str], None]
Layer = tuple[str, Blob]


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([FORMAT, *parts], sort_keys=True).encode()).hexdigest()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _pip_config_key() -> dict[str, str]:
    """Where pip fetches from (and its constraints' content): part of the packages' cache key."""
    settings = pip_settings()
    for path in settings.get("constraint", "").split():
        try:
            settings[f"constraint:{path}"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            pass
    return settings


def _pip_layers(
    inputs: ImageInputs, base: BaseImage, cache: LayerCache, progress: Progress
) -> tuple[list[Layer], bool]:
    first = runtime_requirements() if inputs.include_runtime else []
    if (fw := framework_requirement(inputs.framework, inputs.gpu)) is not None:
        first.append(fw)
    extra = normalised_set(inputs.pip_requirements)
    if not first and not extra:
        return [], False
    python, platforms, site = base.python, base.pip_platforms(), base.site_packages
    key = _key("pip", python, platforms, site, first, extra, _pip_config_key())
    if (hit := cache.get(key)) is not None:
        return hit, False
    tmp = cache.temp_dir()
    try:
        target = tmp / "site"
        tag = f"cp{python.replace('.', '')} {platforms[0]}"
        progress(f"pip install {len(first) + len(extra)} requirements for {tag}")
        run_pip([*first, *extra], target, python, platforms)
        dists = read_dists(target)
        needed = closure(first, dists, marker_env(python, platforms[0]))
        owned = owned_files(target, dists)
        total = sum(installed_size(files) for files in owned.values())
        progress(f"pip installed {len(dists)} packages for {tag}: {_mb(total)}")
        groups = _package_groups(owned, needed)
        jobs = []
        for name, members, files in groups:
            # Keyed by what it holds: a changed workload requirement that leaves these
            # distributions alone reuses the layer without packing it again.
            content_key = _key(name, python, platforms, site, dist_listing(members, dists))
            jobs.append((name, files, content_key, cache.get(content_key)))
        todo = [(n, f, k) for n, f, k, hit in jobs if hit is None]
        with ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as pool:
            # zlib releases the GIL: big layers compress in parallel
            built = dict(
                zip(
                    [k for _, _, k in todo],
                    pool.map(lambda job: write_layer(job[1], site, tmp / f"{job[2]}.tar.gz"), todo),
                )
            )
        layers: list[Layer] = []
        for name, _, content_key, hit in jobs:
            layers += hit if hit is not None else cache.put(content_key, [(name, built[content_key])])
        return cache.put(key, layers), True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _package_groups(
    owned: dict[str, list[tuple[str, str]]], needed: set[str]
) -> list[tuple[str, set[str], list[tuple[str, str]]]]:
    """(layer name, distributions, files): each distribution of the runtime/framework closure
    over BIG_DIST_BYTES in a layer of its own ("packages-xgboost"), the rest of the closure in
    "packages", the workload's additions in "requirements". Smaller layers pack in parallel and
    an upgrade of one big distribution re-pushes only its layer."""
    big = sorted(n for n in needed if n in owned and installed_size(owned[n]) >= BIG_DIST_BYTES)
    groups: list[tuple[str, set[str], list[tuple[str, str]]]] = []
    rest = sorted(n for n in needed if n in owned and n not in big)
    if rest:
        groups.append(("packages", set(rest), sorted(f for n in rest for f in owned[n])))
    groups += [(f"packages-{n}", {n}, owned[n]) for n in big]
    extra = sorted(n for n in owned if n not in needed)
    if extra:
        groups.append(("requirements", set(extra), sorted(f for n in extra for f in owned[n])))
    return groups


def _file_layer(name: str, files: list[tuple[str, str]], prefix: str, part: str, cache: LayerCache) -> Layer:
    key = _key(name, prefix, part)
    if (hit := cache.get(key)) is not None:
        return hit[0]
    tmp = cache.temp_dir()
    try:
        return cache.put(key, [(name, write_layer(files, prefix, tmp / f"{name}.tar.gz"))])[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _layers(
    inputs: ImageInputs, base: BaseImage, parts: dict[str, str], cache: LayerCache, progress: Progress
) -> tuple[list[Layer], bool]:
    layers, pip_ran = _pip_layers(inputs, base, cache, progress)
    if inputs.include_runtime:
        layers.append(_file_layer("runtime", runtime_files(), base.site_packages, parts["runtime"], cache))
    if inputs.source_dir is not None:
        files = source_files(inputs.source_dir, inputs.source_excludes)
        layers.append(_file_layer("source", files, APP_DIR, parts["source"], cache))
    if inputs.model_dir is not None:
        layers.append(_file_layer("model", model_files(inputs.model_dir), MODEL_DIR, parts["model"], cache))
    return layers, pip_ran


def _set_env(env: list[str], name: str, value: str) -> list[str]:
    return [e for e in env if e.partition("=")[0] != name] + [f"{name}={value}"]


def image_config(base: BaseImage, layers: list[Layer], inputs: ImageInputs, digest: str) -> bytes:
    """The new image config: the base's, with mlrt's layers, env, command and inputs label."""
    cfg: dict[str, Any] = copy.deepcopy(base.config)
    created = datetime.fromtimestamp(epoch(), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    cfg["created"] = created
    c = cfg.setdefault("config", {})
    env = list(c.get("Env") or [])
    if inputs.source_dir is not None:
        c["WorkingDir"] = APP_DIR
    if inputs.model_dir is not None:
        env = _set_env(env, "MLRT_MODEL_DIR", MODEL_DIR)
    for name, value in inputs.env:
        env = _set_env(env, name, value)
    c["Env"] = env
    if inputs.entrypoint:
        c["Cmd"] = list(inputs.entrypoint)
        c.pop("Entrypoint", None)
    c["Labels"] = {**(c.get("Labels") or {}), INPUTS_LABEL: digest}
    rootfs = cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), *(b.diff_id for _, b in layers)]
    if cfg.get("history"):
        cfg["history"] = [
            *cfg["history"],
            *({"created": created, "created_by": f"mlrt: {n}"} for n, _ in layers),
        ]
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def image_manifest(base: BaseImage, layers: list[Layer], config: bytes) -> bytes:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _sha(config), "size": len(config)},
        "layers": [
            *base.layers,
            *({"mediaType": OCI_LAYER, "digest": b.digest, "size": b.size} for _, b in layers),
        ],
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_registry(
    reg: Registry,
    repo: str,
    tag: str,
    base: BaseImage,
    layers: list[Layer],
    config: bytes,
    manifest: bytes,
    progress: Progress,
) -> tuple[int, set[str]]:
    """Push to a registry; (bytes uploaded, digests of mlrt's layers that were uploaded)."""
    uploaded, count, fresh = 0, 0, set()
    for desc in base.layers:
        digest, size = desc["digest"], int(desc["size"])
        if reg.has_blob(repo, digest):
            continue
        if isinstance(base.ref, LayoutRef):
            reg.upload_blob(repo, digest, size, layout.blob_path(Path(base.ref.path), digest))
        elif (
            base.registry is reg
            and isinstance(base.ref, RegistryRef)
            and reg.mount_blob(repo, digest, base.ref.repository)
        ):
            continue
        else:
            assert base.registry is not None and isinstance(base.ref, RegistryRef)
            with base.registry.stream_blob(base.ref.repository, digest) as chunks:
                reg.upload_blob(repo, digest, size, chunks)
        uploaded, count = uploaded + size, count + 1
    for _, blob in layers:
        if blob.digest in fresh or reg.has_blob(repo, blob.digest):
            continue
        reg.upload_blob(repo, blob.digest, blob.size, blob.path)
        uploaded, count = uploaded + blob.size, count + 1
        fresh.add(blob.digest)
    if not reg.has_blob(repo, _sha(config)):
        reg.upload_blob(repo, _sha(config), len(config), iter([config]))
        uploaded, count = uploaded + len(config), count + 1
    if reg.manifest_digest(repo, tag) != _sha(manifest):
        reg.put_manifest(repo, tag, manifest, OCI_MANIFEST)
        uploaded, count = uploaded + len(manifest), count + 1
    progress(f"push {reg.host}/{repo}:{tag}: {count} blobs, {_mb(uploaded)} uploaded")
    return uploaded, fresh


def _copy_registry_blob(base: BaseImage, root: Path, digest: str) -> int:
    """A registry base's layer into a layout target (a layout must hold every blob it names)."""
    dest = layout.blob_path(root, digest)
    if dest.is_file():
        return 0
    assert base.registry is not None and isinstance(base.ref, RegistryRef)
    tmp = dest.parent / f".tmp-{dest.name}"
    sha = hashlib.sha256()
    with base.registry.stream_blob(base.ref.repository, digest) as chunks, open(tmp, "wb") as out:
        for chunk in chunks:
            sha.update(chunk)
            out.write(chunk)
    if "sha256:" + sha.hexdigest() != digest:
        tmp.unlink(missing_ok=True)
        raise PermanentError(
            f"Base layer {digest} arrived corrupted", "Its content does not match its digest."
        )
    tmp.replace(dest)
    return dest.stat().st_size


def _write_layout(
    root: Path,
    tag: str,
    base: BaseImage,
    layers: list[Layer],
    config: bytes,
    manifest: bytes,
    progress: Progress,
) -> tuple[int, set[str]]:
    """Blobs first (each renamed into place), index.json last: no half-written image."""
    layout.ensure_layout(root)
    written, fresh = 0, set()
    for desc in base.layers:
        if isinstance(base.ref, LayoutRef):
            written += layout.put_blob(
                root, desc["digest"], layout.blob_path(Path(base.ref.path), desc["digest"])
            )
        else:
            written += _copy_registry_blob(base, root, desc["digest"])
    for _, blob in layers:
        n = layout.put_blob(root, blob.digest, blob.path)
        if n:
            fresh.add(blob.digest)
        written += n
    written += layout.put_blob(root, _sha(config), config)
    written += layout.put_blob(root, _sha(manifest), manifest)
    layout.tag_manifest(
        root, tag, {"mediaType": OCI_MANIFEST, "digest": _sha(manifest), "size": len(manifest)}
    )
    progress(f"write oci:{root}:{tag}: {_mb(written)} written")
    return written, fresh


def build_image(
    inputs: ImageInputs,
    target: Target,
    *,
    progress: Progress = lambda s: None,
    cache_dir: Path | None = None,
    insecure_registries: Collection[str] = (),
    hash_cache: FileHashCache | None = None,
) -> BuiltImage:
    """Build the image `inputs` describe and push it to `target`; see the module docstring.
    `insecure_registries` lists base registries (host:port) spoken to over plain http (the
    target's own flag covers a base on the target's registry; loopback registries fall back to
    http as Docker's do). `hash_cache` is the plan's FileHashCache, so files hashed at plan
    time are not read again."""
    problems = validate_requirements(inputs.pip_requirements)
    if problems:
        raise PermanentError(
            "Invalid pip requirement" + ("s" if len(problems) > 1 else ""),
            "\n".join(f"pip_requirements[{i}]: {m}" for i, m in problems),
        )
    base_ref = parse_reference(inputs.base)
    clients: list[Registry] = []
    try:
        target_reg: Registry | None = None
        repo = ""
        if isinstance(target, RegistryTarget):
            host, repo = split_repository(target.repository)
            target_reg = Registry(
                host,
                insecure=target.insecure,
                auth=target.auth or credentials_for(host),
                http_fallback=is_loopback(host),  # as Docker: a registry on loopback may be plain http
            )
            clients.append(target_reg)
        base_reg: Registry | None = None
        if isinstance(base_ref, RegistryRef):
            if target_reg is not None and base_ref.host == target_reg.host:
                base_reg = target_reg
            else:
                base_reg = Registry(
                    base_ref.host,
                    insecure=base_ref.host in insecure_registries,
                    auth=credentials_for(base_ref.host),
                    http_fallback=is_loopback(base_ref.host),
                )
                clients.append(base_reg)
        base = resolve(base_ref, base_reg)
        parts = input_parts(inputs, hash_cache=hash_cache)
        digest = digest_of_parts(parts)
        cache = LayerCache(cache_dir if cache_dir is not None else default_cache_dir())
        layers, pip_ran = _layers(inputs, base, parts, cache, progress)
        config = image_config(base, layers, inputs, digest)
        manifest = image_manifest(base, layers, config)
        if target_reg is not None:
            assert isinstance(target, RegistryTarget)
            pushed, fresh = _push_registry(
                target_reg, repo, target.tag, base, layers, config, manifest, progress
            )
            reference = f"{target_reg.host}/{repo}@{_sha(manifest)}"
        else:
            assert isinstance(target, OciLayoutTarget)
            root = Path(target.path).absolute()
            pushed, fresh = _write_layout(root, target.tag, base, layers, config, manifest, progress)
            reference = f"oci:{root}@{_sha(manifest)}"
        infos = [LayerInfo(name, b.digest, b.size, reused=b.digest not in fresh) for name, b in layers]
        for info in infos:
            fresh_word = "uploaded" if isinstance(target, RegistryTarget) else "written"
            progress(f"layer {info.name}: {_mb(info.size)} ({'reused' if info.reused else fresh_word})")
        return BuiltImage(reference, _sha(manifest), pushed, infos, pip_ran)
    finally:
        for client in clients:
            client.close()
