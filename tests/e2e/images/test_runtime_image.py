"""The real thing: an image with mlrt's runtime and XGBoost for the base's Python, pushed to the
registry, pulled back by digest with skopeo, unpacked with umoci, and imported by this machine's
Python from the unpacked layers only (-S: no site-packages of the host; -I-like environment).

pip downloads the wheels for the target platform once (pip's HTTP cache keeps them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlrt_iac.images import ImageInputs, RegistryAuth, RegistryTarget, build_image
from tests.support.oci_registry import RegistryServer, skopeo_copy

pytestmark = pytest.mark.images  # the session's layer cache, shared with the service image tests

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
CHECK = (
    "import mlrt_iac.runtime, xgboost, app_module; print(mlrt_iac.runtime.__file__); print(xgboost.__file__)"
)


def _run(rootfs: Path, paths: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "PYTHONNOUSERSITE": "1",
    }
    return subprocess.run(
        [sys.executable, "-S", "-c", CHECK], capture_output=True, text=True, env=env, cwd=rootfs, timeout=120
    )


def test_runtime_and_xgboost_import_from_the_pulled_image(
    registry: RegistryServer, base_ref: str, auth: RegistryAuth, project: Path, tmp_path: Path
) -> None:
    (project / "app_module.py").write_text("APP = True\n")
    inputs = ImageInputs(
        base=base_ref, framework="xgboost", source_dir=project, entrypoint=("python", "train.py")
    )
    lines: list[str] = []
    built = build_image(
        inputs,
        RegistryTarget(f"{registry.host}/team/xgb", "v1", insecure=True, auth=auth),
        progress=lines.append,
        # The session's layer cache ($XDG_CACHE_HOME, tests/conftest.py): the XGBoost packages
        # are installed once per session, and tests/e2e/test_local_service_image.py reuses them.
    )
    names = [layer.name for layer in built.layers]
    assert names[0] == "packages" and names[-2:] == ["runtime", "source"]
    assert "packages-pyarrow" in names  # a big distribution gets a layer of its own
    if built.pip_ran:
        assert any(line.startswith("pip install 8 requirements for cp3") for line in lines), lines

    pulled = tmp_path / "pulled"
    skopeo_copy(f"docker://{built.reference}", f"oci:{pulled}:t", registry)
    rootfs = tmp_path / "rootfs"
    unpack = subprocess.run(
        ["umoci", "raw", "unpack", "--rootless", "--image", f"{pulled}:t", str(rootfs)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert unpack.returncode == 0, unpack.stderr
    assert (rootfs / "etc" / "mlrt-base").is_file()  # the base's layer is there too
    site = rootfs / "usr" / "local" / "lib" / PY / "site-packages"
    app = rootfs / "mlrt" / "app"
    assert not (app / "data.csv").exists() and (app / "train.py").is_file()

    proc = _run(rootfs, [site, app])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        str(site / "mlrt_iac" / "runtime" / "__init__.py"),
        str(site / "xgboost" / "__init__.py"),
    ]
    # the control: without the image's site-packages the same check fails (nothing leaks in
    # from the host's installation)
    control = _run(rootfs, [app])
    assert control.returncode != 0 and "ModuleNotFoundError" in control.stderr
