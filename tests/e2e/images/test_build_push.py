"""Builds pushed to a real registry (and written to OCI layouts), read back with skopeo: digests
reproducible across cold caches, unchanged inputs push nothing, a source change pushes one layer,
base layers by cross-repository mount. pip installs from a local wheel folder (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from mlrt_iac.images import (
    BuiltImage,
    ImageInputs,
    OciLayoutTarget,
    RegistryAuth,
    RegistryTarget,
    build_image,
)
from tests.support.oci_registry import RegistryServer, skopeo_copy


def _inspect(
    ref: str, registry: RegistryServer, *, raw: bool = False, config: bool = False
) -> dict[str, object]:
    cmd = ["skopeo", "inspect"] + (["--raw"] if raw else []) + (["--config"] if config else [])
    if ref.startswith("docker://"):
        cmd += ["--creds", registry.creds, "--tls-verify=false"]
    proc = subprocess.run([*cmd, ref], capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(proc.stdout))


def _target(registry: RegistryServer, auth: RegistryAuth, repo: str) -> RegistryTarget:
    return RegistryTarget(f"{registry.host}/{repo}", "v1", insecure=True, auth=auth)


def test_push_reproducible_cached_and_incremental(
    registry: RegistryServer,
    base_ref: str,
    auth: RegistryAuth,
    offline_pip: Path,
    project: Path,
    tmp_path: Path,
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text('{"trees": []}')
    inputs = ImageInputs(
        base=base_ref,
        pip_requirements=("mlrt-tiny==1.0",),
        include_runtime=False,
        source_dir=project,
        model_dir=model,
        env=(("MODE", "serve"),),
        entrypoint=("python", "-m", "mlrt_iac.runtime.serving"),
    )
    target = _target(registry, auth, "team/incremental")
    lines: list[str] = []
    first = build_image(inputs, target, progress=lines.append, cache_dir=tmp_path / "cache-a")
    assert first.pip_ran and [layer.name for layer in first.layers] == ["requirements", "source", "model"]
    assert not any(layer.reused for layer in first.layers)
    assert first.reference == f"{registry.host}/team/incremental@{first.digest}"
    assert any(line.startswith(f"push {registry.host}/team/incremental:v1: ") for line in lines)
    # the base's layer came by cross-repository mount: not uploaded, not counted
    manifest = _inspect(f"docker://{first.reference}", registry, raw=True)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    ours = sum(layer.size for layer in first.layers)
    config_size = manifest["config"]["size"]  # type: ignore[index]
    assert first.bytes_pushed == ours + config_size + len(json.dumps(manifest, separators=(",", ":")))
    cfg = _inspect(f"docker://{first.reference}", registry, config=True)
    assert cfg["config"]["Cmd"] == ["python", "-m", "mlrt_iac.runtime.serving"]  # type: ignore[index]
    assert "MODE=serve" in cfg["config"]["Env"] and "MLRT_MODEL_DIR=/mlrt/model" in cfg["config"]["Env"]  # type: ignore[index]
    assert cfg["created"] == "1970-01-01T00:00:00Z"

    # a cold build (empty cache) of the same inputs gives the same digest
    again = build_image(inputs, target, cache_dir=tmp_path / "cache-b")
    assert again.digest == first.digest and again.pip_ran
    # warm and unchanged: no pip, nothing uploaded
    warm = build_image(inputs, target, cache_dir=tmp_path / "cache-a")
    assert (warm.digest, warm.bytes_pushed, warm.pip_ran) == (first.digest, 0, False)
    assert all(layer.reused for layer in warm.layers)

    # a source change: only the source layer (plus config and manifest) is uploaded
    (project / "pkg" / "util.py").write_text("X = 2\n")
    changed = build_image(inputs, target, cache_dir=tmp_path / "cache-a")
    assert changed.digest != first.digest and not changed.pip_ran
    assert [layer.name for layer in changed.layers if not layer.reused] == ["source"]
    source = next(layer for layer in changed.layers if layer.name == "source")
    assert source.size < changed.bytes_pushed < source.size + 4096

    # a changed requirement re-installs, and the image carries the new version
    upgraded = build_image(
        dataclasses.replace(inputs, pip_requirements=("mlrt-tiny==2.0",)),
        target,
        cache_dir=tmp_path / "cache-a",
    )
    assert upgraded.pip_ran and [layer.name for layer in upgraded.layers if not layer.reused] == [
        "requirements"
    ]


def test_oci_layout_target_from_layout_base_and_skopeo_copy(
    registry: RegistryServer, base_layout: Path, offline_pip: Path, project: Path, tmp_path: Path
) -> None:
    inputs = ImageInputs(
        base=f"oci:{base_layout}:base",
        pip_requirements=("mlrt-tiny",),
        include_runtime=False,
        source_dir=project,
    )
    out = tmp_path / "layout"
    built = build_image(inputs, OciLayoutTarget(out, "svc-1"), cache_dir=tmp_path / "cache")
    assert built.reference == f"oci:{out}@{built.digest}"
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "svc-1"}
    assert _inspect(f"oci:{out}:svc-1", registry)["Digest"] == built.digest
    skopeo_copy(f"oci:{out}:svc-1", f"docker://{registry.host}/team/from-layout:svc-1", registry)
    assert _inspect(f"docker://{registry.host}/team/from-layout:svc-1", registry)["Digest"] == built.digest
    again = build_image(inputs, OciLayoutTarget(out, "svc-1"), cache_dir=tmp_path / "cache")
    assert (again.digest, again.bytes_pushed) == (built.digest, 0)


def test_registry_base_into_layout_and_layout_base_into_registry(
    registry: RegistryServer,
    base_ref: str,
    base_layout: Path,
    auth: RegistryAuth,
    offline_pip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A layout must hold every blob, so a registry base's layers are copied in (streamed); an
    oci: base's layers are uploaded to a registry target. Credentials from a Docker config."""
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(
        json.dumps({"auths": {registry.host: {"username": auth.username, "password": auth.password}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    inputs = ImageInputs(base=base_ref, include_runtime=False)
    out = tmp_path / "layout"
    built = build_image(inputs, OciLayoutTarget(out, "t"), cache_dir=tmp_path / "cache")
    assert _inspect(f"oci:{out}:t", registry)["Digest"] == built.digest
    pushed = build_image(
        ImageInputs(base=f"oci:{base_layout}:base", include_runtime=False),
        RegistryTarget(f"{registry.host}/team/layout-base", "t", insecure=True),  # auth from DOCKER_CONFIG
        cache_dir=tmp_path / "cache",
    )
    assert _inspect(f"docker://{pushed.reference}", registry)["Digest"] == pushed.digest


def test_python_from_label(
    registry: RegistryServer, base_layout: Path, offline_pip: Path, tmp_path: Path
) -> None:
    built = build_image(
        ImageInputs(
            base=f"oci:{base_layout}:labelled", pip_requirements=("mlrt-tiny",), include_runtime=False
        ),
        OciLayoutTarget(tmp_path / "out", "t"),
        cache_dir=tmp_path / "cache",
    )
    assert isinstance(built, BuiltImage) and built.pip_ran


def test_tags_listed_after_push(
    registry: RegistryServer, base_ref: str, auth: RegistryAuth, tmp_path: Path
) -> None:
    built = build_image(
        ImageInputs(base=base_ref, include_runtime=False),
        _target(registry, auth, "team/tags"),
        cache_dir=tmp_path / "c",
    )
    resp = httpx.get(f"http://{registry.host}/v2/team/tags/tags/list", auth=(auth.username, auth.password))
    assert resp.json()["tags"] == ["v1"] and built.layers == []


def test_base_given_as_a_multi_platform_index(
    registry: RegistryServer, base_layout: Path, auth: RegistryAuth, tmp_path: Path
) -> None:
    """An OCI index (as multi-arch python images are) resolves to linux/amd64, in a layout and
    in a registry (pushed there by `skopeo copy --all`)."""
    root = tmp_path / "multi"
    shutil.copytree(base_layout, root)
    index_doc = json.loads((root / "index.json").read_text())
    single = next(
        d for d in index_doc["manifests"] if d["annotations"]["org.opencontainers.image.ref.name"] == "base"
    )
    multi = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    **{k: single[k] for k in ("mediaType", "digest", "size")},
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(multi).hexdigest()
    (root / "blobs" / "sha256" / digest.partition(":")[2]).write_bytes(multi)
    index_doc["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest,
            "size": len(multi),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }
    )
    (root / "index.json").write_text(json.dumps(index_doc))
    from_layout = build_image(
        ImageInputs(base=f"oci:{root}:multi", include_runtime=False),
        OciLayoutTarget(tmp_path / "o", "t"),
        cache_dir=tmp_path / "c",
    )
    single_built = build_image(
        ImageInputs(base=f"oci:{root}:base", include_runtime=False),
        OciLayoutTarget(tmp_path / "o", "u"),
        cache_dir=tmp_path / "c",
    )
    # same layers and config; only the base reference (in the inputs label) differs
    assert (
        _inspect(f"oci:{tmp_path / 'o'}:t", registry)["Layers"]
        == _inspect(f"oci:{tmp_path / 'o'}:u", registry)["Layers"]
    )
    assert from_layout.digest != single_built.digest
    proc = subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--all",
            "--dest-creds",
            registry.creds,
            "--dest-tls-verify=false",
            f"oci:{root}:multi",
            f"docker://{registry.host}/base/multi:1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(registry.root)},
    )
    assert proc.returncode == 0, proc.stderr
    pushed = build_image(
        ImageInputs(base=f"{registry.host}/base/multi:1", include_runtime=False),
        RegistryTarget(f"{registry.host}/team/multi", "v1", insecure=True, auth=auth),
        cache_dir=tmp_path / "c",
    )
    assert (
        _inspect(f"docker://{pushed.reference}", registry)["Layers"]
        == _inspect(f"oci:{tmp_path / 'o'}:t", registry)["Layers"]
    )
