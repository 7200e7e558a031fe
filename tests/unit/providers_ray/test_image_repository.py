"""image_repository on the ray provider: a layout directory as on local, or a recorded registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.provider import ProviderContext, ReadRequest
from providers.kit.oci_layout import is_valid_layout
from providers.ray import RayProvider
from providers.ray.image_repository import ImageRepositoryHandler, is_registry


def _handler(tmp_path: Path) -> tuple[ImageRepositoryHandler, ProviderContext]:
    ctx = ProviderContext(
        project_dir=tmp_path, data_dir=tmp_path / ".mlrt", address="image_repository.models"
    )
    provider = RayProvider()
    assert not provider.configure({}, ctx).has_errors
    handler = provider.handlers["image_repository"]
    assert isinstance(handler, ImageRepositoryHandler)
    return handler, ctx


@pytest.mark.parametrize(
    ("value", "registry"),
    [
        ("127.0.0.1:5000", True),
        ("ghcr.io/acme", True),
        ("localhost/team", True),
        ("images", False),
        ("./images.d", False),
        ("../team-images/oci", False),
        ("/srv/oci", False),
        ("oci:/srv/oci", False),
        ("https://ghcr.io", False),
        (None, False),
    ],
)
def test_registry_or_directory(value: str | None, registry: bool) -> None:
    assert is_registry(value) is registry


def test_default_is_a_layout_directory_under_the_ray_folder(tmp_path: Path) -> None:
    handler, ctx = _handler(tmp_path)
    created = handler.create(ctx, {"name": "models", "registry": None})
    path = Path(created.id)
    assert path == (tmp_path / ".mlrt" / "ray" / "registry" / "models").absolute()
    assert is_valid_layout(path) and created.attributes["repository_url"] == f"oci:{path}"
    handler.delete(ctx, created.id, created.attributes)
    assert not path.exists()


def test_a_registry_host_is_recorded_without_a_directory(tmp_path: Path) -> None:
    handler, ctx = _handler(tmp_path)
    desired = {"name": "models", "registry": "127.0.0.1:5000/team"}
    assert handler.planned_id(ctx, desired) == "127.0.0.1:5000/team/models"
    created = handler.create(ctx, desired)
    assert created.id == "127.0.0.1:5000/team/models"
    assert created.attributes["repository_url"] == "127.0.0.1:5000/team/models"
    assert not (tmp_path / ".mlrt" / "ray" / "registry").exists()
    read = handler.read_many(ctx, [ReadRequest(ctx, created.id, created.attributes)]).results[0]
    assert not isinstance(read, Exception) and read.attributes == created.attributes
    handler.delete(ctx, created.id, created.attributes)  # nothing of the registry is removed


def test_a_url_with_a_scheme_is_a_validation_error(tmp_path: Path) -> None:
    handler, _ = _handler(tmp_path)
    diags = handler.validate({"name": "models", "registry": "https://ghcr.io"})
    assert diags.has_errors and "host[:port]" in str(list(diags))
