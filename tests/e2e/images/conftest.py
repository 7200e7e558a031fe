"""A real registry (docker-registry with htpasswd auth) for the session, a tiny base image pushed
into it with skopeo, and a local wheel index so most builds need no network."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlrt_iac.images import RegistryAuth
from tests.support.oci_registry import RegistryServer, running_registry, skopeo_copy, write_base_layout

BASE_REPO = "base/python"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="session")
def base_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base-layout")
    write_base_layout(root, "base")
    write_base_layout(root, "nopython", python="")
    write_base_layout(root, "labelled", python="3.11", label_only=True)
    return root


@pytest.fixture(scope="session")
def base_ref(registry: RegistryServer, base_layout: Path) -> str:
    """The base image in the registry, pushed by skopeo from the OCI layout."""
    ref = f"{registry.host}/{BASE_REPO}:3.11"
    skopeo_copy(f"oci:{base_layout}:base", f"docker://{ref}", registry)
    return ref


@pytest.fixture()
def auth(registry: RegistryServer) -> RegistryAuth:
    return RegistryAuth(registry.user, registry.password)


def _wheel(directory: Path, name: str, version: str, body: str, requires: tuple[str, ...] = ()) -> None:
    """A pure-Python wheel written by hand (a zip with METADATA, WHEEL and RECORD)."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    files = {
        f"{module}/__init__.py": body,
        f"{dist_info}/METADATA": meta,
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: mlrt-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(directory / f"{module}-{version}-py3-none-any.whl", "w") as zf:
        for path, text in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            zf.writestr(info, text)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheels")
    _wheel(directory, "mlrt-tinydep", "1.0", "DEP = 'dep'\n")
    _wheel(directory, "mlrt-tiny", "1.0", "from mlrt_tinydep import DEP\nVALUE = 1\n", ("mlrt-tinydep>=1.0",))
    _wheel(directory, "mlrt-tiny", "2.0", "from mlrt_tinydep import DEP\nVALUE = 2\n", ("mlrt-tinydep>=1.0",))
    return directory


@pytest.fixture()
def offline_pip(wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip sees only the test's wheels: no index, no configuration file of this machine."""
    for key in list(os.environ):
        if key.startswith("PIP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
    return wheelhouse


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    src = tmp_path / "proj"
    (src / "pkg").mkdir(parents=True)
    (src / "train.py").write_text("import pkg.util\nprint(pkg.util.X)\n")
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "util.py").write_text("X = 1\n")
    (src / "data.csv").write_text("a,b\n1,2\n")
    return src
