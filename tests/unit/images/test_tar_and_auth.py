"""Reproducible layer tars, image references, and credentials from Docker config files."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.images.auth import credentials_for
from mlrt_iac.images.files import source_files
from mlrt_iac.images.reference import LayoutRef, RegistryRef, parse_reference
from mlrt_iac.images.tarlayer import write_layer
from mlrt_iac.images.types import RegistryAuth


def _tree(root: Path, mtime: float, umask_mode: int) -> None:
    (root / "b").mkdir(parents=True)
    (root / "a.py").write_text("print(1)\n")
    (root / "b" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "b" / "run.sh", 0o700)
    os.chmod(root / "a.py", umask_mode)
    for p in root.rglob("*"):
        os.utime(p, (mtime, mtime))


def test_same_files_give_the_same_layer_digest(tmp_path: Path) -> None:
    _tree(tmp_path / "one", 1_000_000, 0o600)
    _tree(tmp_path / "two", 2_000_000, 0o664)  # other times, other permission bits
    one = write_layer(source_files(tmp_path / "one"), "/mlrt/app", tmp_path / "one.tgz")
    two = write_layer(source_files(tmp_path / "two"), "/mlrt/app", tmp_path / "two.tgz")
    assert (one.digest, one.diff_id, one.size) == (two.digest, two.diff_id, two.size)
    raw = (tmp_path / "one.tgz").read_bytes()
    assert raw[4:8] == b"\0\0\0\0" and not raw[3] & 0x08  # gzip: mtime 0, no file name
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw))) as tar:
        members = [(m.name, oct(m.mode), m.mtime, m.uid, m.gid, m.uname, m.gname) for m in tar.getmembers()]
    assert members == [
        ("mlrt", "0o755", 0, 0, 0, "", ""),
        ("mlrt/app", "0o755", 0, 0, 0, "", ""),
        ("mlrt/app/a.py", "0o644", 0, 0, 0, "", ""),
        ("mlrt/app/b", "0o755", 0, 0, 0, "", ""),
        ("mlrt/app/b/run.sh", "0o755", 0, 0, 0, "", ""),
    ]
    (tmp_path / "two" / "a.py").write_text("print(2)\n")
    changed = write_layer(source_files(tmp_path / "two"), "/mlrt/app", tmp_path / "three.tgz")
    assert changed.digest != one.digest


def test_source_date_epoch_sets_entry_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path / "t", 5, 0o644)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_layer(source_files(tmp_path / "t"), "/x", tmp_path / "l.tgz")
    with tarfile.open(tmp_path / "l.tgz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}


def test_source_files_leave_out_links_and_state(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("key")
    proj = tmp_path / "proj"
    (proj / ".git").mkdir(parents=True)
    (proj / ".git" / "HEAD").write_text("ref")
    (proj / "main.py").write_text("")
    (proj / "table.feather").write_bytes(b"")
    (proj / "link.txt").symlink_to(tmp_path / "secret")
    assert [rel for rel, _ in source_files(proj)] == ["main.py"]


def test_references() -> None:
    assert parse_reference("127.0.0.1:5000/team/svc:1.0") == RegistryRef(
        "127.0.0.1:5000", "team/svc", "1.0", None
    )
    digest = "sha256:" + "a" * 64
    assert parse_reference(f"ghcr.io/o/r@{digest}") == RegistryRef("ghcr.io", "o/r", None, digest)
    assert parse_reference("python:3.11-slim").repository == "library/python"
    assert parse_reference("oci:/srv/layout:base") == LayoutRef("/srv/layout", "base", None)
    for bad in (
        "127.0.0.1:5000/team/svc",
        "oci:/srv/layout",
        "oci:relative:t",
        "Host/UPPER:1",
        "r@sha256:12",
    ):
        with pytest.raises(PermanentError) as info:
            parse_reference(bad)
        assert "Invalid image reference" in info.value.summary


def _write_config(path: Path, auths: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths}))


def test_docker_config_credentials(tmp_path: Path) -> None:
    token = base64.b64encode(b"alice:pa:ss").decode()
    _write_config(
        tmp_path / "docker" / "config.json",
        {
            "127.0.0.1:5000": {"auth": token},
            "https://registry.example.com/v1/": {"username": "bob", "password": "pw"},
            "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:tok").decode()},
            "broken.example.com": {"auth": "!!notbase64"},
        },
    )
    env = {"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path / "docker")}
    assert credentials_for("127.0.0.1:5000", env) == RegistryAuth("alice", "pa:ss")
    assert credentials_for("registry.example.com", env) == RegistryAuth("bob", "pw")
    assert credentials_for("registry-1.docker.io", env) == RegistryAuth("hub", "tok")
    assert credentials_for("broken.example.com", env) is None
    assert credentials_for("127.0.0.1:5001", env) is None


def test_containers_auth_file_and_default_docker_dir(tmp_path: Path) -> None:
    _write_config(tmp_path / ".docker" / "config.json", {"a.example.com": {"username": "d", "password": "1"}})
    _write_config(tmp_path / "auth.json", {"b.example.com": {"auth": base64.b64encode(b"c:2").decode()}})
    env = {"HOME": str(tmp_path), "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}
    assert credentials_for("a.example.com", env) == RegistryAuth("d", "1")
    assert credentials_for("b.example.com", env) == RegistryAuth("c", "2")
    (tmp_path / ".docker" / "config.json").write_text("{not json")
    assert credentials_for("a.example.com", env) is None
    assert "password" not in repr(RegistryAuth("u", "hidden")) and "hidden" not in repr(
        RegistryAuth("u", "hidden")
    )
