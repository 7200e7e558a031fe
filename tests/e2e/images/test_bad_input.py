"""Bad input: each a PermanentError with a clear summary, nothing pushed, nothing half-written."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.images import ImageInputs, OciLayoutTarget, RegistryAuth, RegistryTarget, build_image
from tests.support.oci_registry import RegistryServer, free_port


def _error(inputs: ImageInputs, target: OciLayoutTarget | RegistryTarget, cache: Path) -> PermanentError:
    with pytest.raises(PermanentError) as info:
        build_image(inputs, target, cache_dir=cache)
    return info.value


def test_unknown_package_pushes_and_writes_nothing(
    registry: RegistryServer,
    base_ref: str,
    base_layout: Path,
    auth: RegistryAuth,
    offline_pip: Path,
    tmp_path: Path,
) -> None:
    inputs = ImageInputs(base=base_ref, pip_requirements=("mlrt-no-such-package-xyz",), include_runtime=False)
    err = _error(
        inputs,
        RegistryTarget(f"{registry.host}/team/nothing", "v1", insecure=True, auth=auth),
        tmp_path / "c",
    )
    assert "mlrt-no-such-package-xyz" in err.summary and "pip" in err.summary
    resp = httpx.get(f"http://{registry.host}/v2/team/nothing/tags/list", auth=(auth.username, auth.password))
    assert resp.status_code == 404  # the repository was never created
    out = tmp_path / "layout"
    layout_inputs = ImageInputs(
        base=f"oci:{base_layout}:base", pip_requirements=("mlrt-no-such-package-xyz",)
    )
    _error(layout_inputs, OciLayoutTarget(out, "v1"), tmp_path / "c")
    assert not out.exists()
    # an existing layout keeps its index and gains no blob
    ok = build_image(
        ImageInputs(base=f"oci:{base_layout}:base", include_runtime=False),
        OciLayoutTarget(out, "v1"),
        cache_dir=tmp_path / "c",
    )
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _error(layout_inputs, OciLayoutTarget(out, "v1"), tmp_path / "c")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before and ok.digest


def test_unparsable_requirement_names_its_line(base_ref: str, tmp_path: Path) -> None:
    err = _error(
        ImageInputs(base=base_ref, pip_requirements=("numpy", "xgboost==")),
        OciLayoutTarget(tmp_path / "o", "t"),
        tmp_path / "c",
    )
    assert err.summary == "Invalid pip requirement" and err.detail.startswith(
        "pip_requirements[1]: 'xgboost=='"
    )
    assert not (tmp_path / "o").exists()


def test_wrong_password_is_one_clear_error(registry: RegistryServer, base_ref: str, tmp_path: Path) -> None:
    log = registry.root / "registry.log"
    start = time.monotonic()
    target = RegistryTarget(
        f"{registry.host}/team/denied", "v1", insecure=True, auth=RegistryAuth(registry.user, "wrong")
    )
    err = _error(ImageInputs(base=base_ref, include_runtime=False), target, tmp_path / "c")
    assert err.summary == f"Registry {registry.host} refused the credentials of {registry.user!r}"
    assert "does not retry" in err.detail
    assert time.monotonic() - start < 5
    assert log.exists()


def test_no_credentials_says_how_to_log_in(
    registry: RegistryServer, base_ref: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    target = RegistryTarget(f"{registry.host}/team/anon", "v1", insecure=True)
    err = _error(ImageInputs(base=base_ref, include_runtime=False), target, tmp_path / "c")
    assert err.summary == f"Registry {registry.host} requires credentials" and "docker login" in err.detail


def test_unreachable_registry_names_host_and_port(base_layout: Path, tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    target = RegistryTarget(f"{host}/team/svc", "v1", insecure=True, auth=RegistryAuth("u", "p"))
    err = _error(ImageInputs(base=f"oci:{base_layout}:base", include_runtime=False), target, tmp_path / "c")
    assert err.summary == f"Cannot reach the registry at {host}"


def test_base_without_tag_or_python(registry: RegistryServer, base_layout: Path, tmp_path: Path) -> None:
    err = _error(
        ImageInputs(base=f"{registry.host}/base/python"), OciLayoutTarget(tmp_path / "o", "t"), tmp_path / "c"
    )
    assert (
        err.summary == f"Invalid image reference '{registry.host}/base/python'"
        and "neither a tag nor a digest" in err.detail
    )
    err = _error(
        ImageInputs(base=f"oci:{base_layout}:nopython"), OciLayoutTarget(tmp_path / "o", "t"), tmp_path / "c"
    )
    assert "does not say which Python" in err.summary and "org.mlrt.python" in err.detail
    err = _error(
        ImageInputs(base=f"oci:{base_layout}:missing-tag"),
        OciLayoutTarget(tmp_path / "o", "t"),
        tmp_path / "c",
    )
    assert "not found" in err.summary
    assert not (tmp_path / "o").exists()
