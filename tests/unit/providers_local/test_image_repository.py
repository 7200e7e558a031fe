"""image_repository on the local provider: OCI layout directories, drift, ownership on delete."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import ProviderContext
from providers.local import LocalProvider
from providers.local.image_repository import MARKER, ImageRepositoryHandler, is_valid_layout


def repo(name: str | None, **kw: Any) -> dict[str, Any]:
    return {"name": name, "registry": None, "comment": None, **kw}


def handler(p: LocalProvider) -> ImageRepositoryHandler:
    h = p.handler("image_repository")
    assert isinstance(h, ImageRepositoryHandler)
    return h


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_create_writes_an_oci_layout(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    res = h.create(ctx, repo("images"))
    path = (ctx.data_dir / "registry" / "images").absolute()
    assert res.id == str(path)
    assert res.attributes == {
        "name": "images",
        "registry": None,
        "comment": None,
        "repository_url": f"oci:{path}",
    }
    assert json.loads((path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((path / "index.json").read_text())["manifests"] == []
    assert (path / "blobs" / "sha256").is_dir()
    assert json.loads((path / MARKER).read_text())["created_by"] == "mlrt"
    assert h.read(ctx, res.id, res.attributes).attributes == res.attributes
    assert leftovers(path.parent) == []  # no temporary directories left
    assert h.plan_computed(ctx, repo("images"), None) == {"repository_url": f"oci:{path}"}


def test_registry_path_and_provider_root(
    make_provider: Callable[..., LocalProvider], ctx: ProviderContext, tmp_path: Path
) -> None:
    h = handler(make_provider())
    res = h.create(ctx, repo("a", registry="images/registry"))
    assert Path(res.id) == (ctx.project_dir / "images" / "registry" / "a").absolute()
    rooted = handler(make_provider(root=str(tmp_path / "srv")))
    res = rooted.create(ctx, repo("b"))
    assert Path(res.id) == tmp_path / "srv" / "registry" / "b"
    assert is_valid_layout(Path(res.id))


def test_deleting_or_breaking_the_directory_is_drift(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(ctx, repo("x"))
    (Path(a.id) / "index.json").write_text("{not json")
    assert h.read(ctx, a.id, a.attributes).attributes is None
    shutil.rmtree(a.id)
    assert h.read(ctx, a.id, a.attributes).attributes is None
    again = h.create(ctx, repo("x"))  # the next apply creates it again
    assert again.id == a.id and is_valid_layout(Path(a.id))


def test_create_adopts_its_own_leftover_and_repairs_it(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(ctx, repo("x"))
    (Path(a.id) / "oci-layout").unlink()  # e.g. an apply killed before the state was written
    b = h.create(ctx, repo("x"))
    assert b.id == a.id and is_valid_layout(Path(b.id))


def test_delete_removes_the_directory(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(ctx, repo("x"))
    blob = Path(a.id) / "blobs" / "sha256" / ("0" * 64)
    blob.write_bytes(b"layer")
    h.delete(ctx, a.id, a.attributes)
    assert not Path(a.id).exists()
    assert leftovers(Path(a.id).parent) == []
    h.delete(ctx, a.id, a.attributes)  # already gone: fine


def test_delete_refuses_a_directory_mlrt_did_not_create(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    a = h.create(ctx, repo("x"))
    # Someone replaced the repository with their own data at the same path.
    shutil.rmtree(a.id)
    Path(a.id).mkdir()
    (Path(a.id) / "precious.txt").write_text("keep me")
    with pytest.raises(PermanentError) as err:
        h.delete(ctx, a.id, a.attributes)
    assert "Refusing to delete" in err.value.summary and "state rm" in err.value.detail
    assert (Path(a.id) / "precious.txt").read_text() == "keep me"


def test_create_refuses_a_foreign_directory_and_leaves_it_alone(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    target = ctx.data_dir / "registry" / "x"
    target.mkdir(parents=True)
    (target / "data.bin").write_bytes(b"1")
    with pytest.raises(PermanentError) as err:
        h.create(ctx, repo("x"))
    assert "already exists" in err.value.summary
    assert sorted(p.name for p in target.iterdir()) == ["data.bin"]
    assert leftovers(target.parent) == []


def test_failed_create_leaves_nothing_behind(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    blocker = ctx.project_dir / "regs"
    blocker.write_text("a file where a directory is needed")
    with pytest.raises(PermanentError) as err:
        h.create(ctx, repo("x", registry="regs/team/images"))
    assert "Could not create directory" in err.value.summary
    assert blocker.read_text() == "a file where a directory is needed"
    assert sorted(p.name for p in ctx.project_dir.iterdir()) == ["regs"]


def test_create_refuses_a_dangling_link_at_the_path_and_keeps_it(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    base = ctx.project_dir / "regs"
    base.mkdir()
    (base / "x").symlink_to(base / "missing-target")  # a dangling link occupies the name
    with pytest.raises(PermanentError):
        h.create(ctx, repo("x", registry="regs"))
    assert sorted(p.name for p in base.iterdir()) == ["x"] and (base / "x").is_symlink()


def test_diff_replace_versus_update(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    prior = h.create(ctx, repo("x")).attributes
    assert h.diff(ctx, prior, repo("x", registry="elsewhere")).requires_replace == ["registry"]
    assert h.diff(ctx, prior, repo("y")).requires_replace == ["name"]
    d = h.diff(ctx, prior, repo("x", comment="team images"))
    assert d.changed == ["comment"] and not d.needs_replace
    updated = h.update(ctx, str(Path(prior["repository_url"][4:])), prior, repo("x", comment="team images"))
    assert updated.attributes["comment"] == "team images"
    assert updated.attributes["repository_url"] == prior["repository_url"]


def test_remote_registry_is_rejected(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    assert h.validate(repo("x", registry="https://ghcr.io/team")).has_errors
    with pytest.raises(PermanentError):
        h.create(ctx, repo("x", registry="https://ghcr.io/team"))
    assert not (ctx.data_dir).exists()


def test_import_reads_an_existing_layout(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(ctx, repo("x"))
    got = h.import_(ctx, a.id).attributes
    assert got == {"name": "x", "registry": None, "repository_url": a.attributes["repository_url"]}


def test_unset_name_takes_the_block_label(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    ctx.address = "module.team.image_repository.images[0]"
    prior = h.create(ctx, repo(None)).attributes
    assert prior["name"] == "images-0" and prior["repository_url"].endswith("/registry/images-0")
    assert h.diff(ctx, prior, repo(None)).changed == []
