"""A real registry for image tests and the image benchmark: Debian's `docker-registry` (the CNCF
Distribution registry) on 127.0.0.1 with htpasswd (bcrypt) auth and storage in a temporary
folder, and a tiny base image written as an OCI layout and pushed with skopeo (no image can be
pulled from the internet here)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

USER, PASSWORD = "mlrt", "s3cret-pass"


@dataclass(frozen=True)
class RegistryServer:
    host: str  # "127.0.0.1:PORT"
    user: str
    password: str
    root: Path

    @property
    def creds(self) -> str:
        return f"{self.user}:{self.password}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_registry(workdir: Path) -> Iterator[RegistryServer]:
    """Start `docker-registry serve`, wait until /v2/ answers, always stop it."""
    workdir.mkdir(parents=True, exist_ok=True)
    htpasswd = subprocess.run(
        ["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True
    ).stdout
    (workdir / "htpasswd").write_text(htpasswd)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "storage")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "mlrt-test-secret"},
        "auth": {"htpasswd": {"realm": "mlrt-test", "path": str(workdir / "htpasswd")}},
    }
    (workdir / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    log = open(workdir / "registry.log", "wb")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(workdir / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {(workdir / 'registry.log').read_text()}")
            time.sleep(0.05)
        yield RegistryServer(f"127.0.0.1:{port}", USER, PASSWORD, workdir)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_base_layout(
    root: Path, tag: str = "base", python: str | None = None, label_only: bool = False
) -> str:
    """A one-layer base image (a marker file) as an OCI layout; its config carries
    PYTHON_VERSION (this interpreter's, as official python images do) unless `python` is "",
    or only the org.mlrt.python label when `label_only`. Returns the manifest digest."""
    python = (
        f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
        if python is None
        else python
    )
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = b"a tiny base image for mlrt's tests\n"
        info = tarfile.TarInfo("etc/mlrt-base")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(plain.getvalue(), mtime=0)
    env = ["PATH=/usr/local/bin:/usr/bin:/bin"]
    labels = {}
    if python and not label_only:
        env.append(f"PYTHON_VERSION={python}")
    if python and label_only:
        labels["org.mlrt.python"] = python
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {"Env": env, "Cmd": ["python3"], "Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [_sha(plain.getvalue())]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "test base"}],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (layer, config, manifest):
        (blobs / _sha(blob).partition(":")[2]).write_bytes(blob)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index_path = root / "index.json"
    index = (
        json.loads(index_path.read_text()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
    )
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": _sha(manifest),
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    index_path.write_text(json.dumps(index))
    return _sha(manifest)


def skopeo_copy(src: str, dest: str, server: RegistryServer) -> None:
    """`skopeo copy` between an OCI layout and the test registry (either direction)."""
    cmd = ["skopeo", "copy", "--quiet"]
    if src.startswith("docker://"):
        cmd += ["--src-creds", server.creds, "--src-tls-verify=false"]
    if dest.startswith("docker://"):
        cmd += ["--dest-creds", server.creds, "--dest-tls-verify=false"]
    env = {**os.environ, "HOME": str(server.root)}  # no user policy/auth files leak in
    proc = subprocess.run([*cmd, src, dest], capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"skopeo copy {src} {dest} failed:\n{proc.stderr}")
