"""`image_repository` as an OCI image-layout directory: the local provider's, and the ray
provider's for a `registry` that is a directory (shared here so neither imports the other).

The repository is `<registry>/<name>/` when `registry` (a local directory path, relative paths
taken from the project directory) is set, else `<root>/registry/<name>/` where root is what the
provider's `storage_root` says (the local provider: its `root` or the project's `.mlrt/`).
It holds an `oci-layout` file
(`{"imageLayoutVersion": "1.0.0"}`), an `index.json` with no manifests yet, `blobs/sha256/`, and
a marker `.mlrt-repository.json` that says mlrt made it: delete removes only directories that
carry the marker. `repository_url` is `oci:<absolute path>` (the transport syntax skopeo, buildah
and podman accept, e.g. `skopeo copy docker://python:3.11 oci:<path>:py311`). The id is the
absolute path.

`read` checks that the directory exists and is a valid layout, so removing or breaking it by
hand shows up as drift. A create that finds its own marked directory (left by an apply that
crashed before saving state) adopts it and repairs the layout files.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    ProviderContext,
    ReadRequest,
    ReadResult,
    UpdateResult,
)
from mlrt_iac.values import is_known

from .batch import read_by_scan
from .handler import KitHandler
from .names import file_safe_name
from .records import atomic_write_json, plain, read_json

MARKER = ".mlrt-repository.json"
LAYOUT_VERSION = "1.0.0"


def is_valid_layout(path: Path) -> bool:
    """True when `path` is a directory holding a readable OCI image layout."""
    try:
        layout = json.loads((path / "oci-layout").read_text(encoding="utf-8"))
        index = json.loads((path / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(layout, dict)
        and isinstance(layout.get("imageLayoutVersion"), str)
        and isinstance(index, dict)
        and isinstance(index.get("manifests"), list)
        and (path / "blobs" / "sha256").is_dir()
    )


def write_layout(path: Path) -> None:
    """Write the files of an empty OCI layout into `path`, keeping any blobs and index present."""
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    atomic_write_json(path / "oci-layout", {"imageLayoutVersion": LAYOUT_VERSION})
    try:
        index = json.loads((path / "index.json").read_text(encoding="utf-8"))
        ok = isinstance(index, dict) and isinstance(index.get("manifests"), list)
    except (OSError, ValueError):
        ok = False
    if not ok:
        atomic_write_json(path / "index.json", {"schemaVersion": 2, "manifests": []})


class OciLayoutRepositoryHandler(KitHandler):
    """OCI layout directories with an ownership marker. A provider subclasses it and says where
    repositories without a `registry` live (`storage_root`)."""

    type_name: ClassVar[str] = "image_repository"
    computed: ClassVar[tuple[str, ...]] = ("repository_url",)
    force_new: ClassVar[tuple[str, ...]] = ("name", "registry")
    provider_label: ClassVar[str] = "local"

    def storage_root(self, ctx: ProviderContext) -> Path:
        """The folder whose `registry/` holds repositories that name no registry."""
        return ctx.data_dir

    def base_dir(self, ctx: ProviderContext, registry: Any) -> Path:
        if registry is None or registry == "":
            return (self.storage_root(ctx) / "registry").absolute()
        if not isinstance(registry, str):
            raise PermanentError(
                "Invalid registry for a local image repository",
                f"registry must be a directory path (got {registry!r}).",
            )
        reg = registry[4:] if registry.startswith("oci:") else registry
        if "://" in reg:
            raise PermanentError(
                f'The {self.provider_label} provider cannot use registry "{registry}"',
                "Local image repositories are directories: set registry to a local path "
                "(or leave it unset), or use the kubernetes provider for a remote registry.",
            )
        p = Path(reg).expanduser()
        return (p if p.is_absolute() else ctx.project_dir / p).absolute()

    def repo_dir(self, ctx: ProviderContext, attrs: Attributes) -> Path:
        return self.base_dir(ctx, attrs.get("registry")) / file_safe_name(ctx, attrs)

    @staticmethod
    def url(path: Path) -> str:
        return f"oci:{path}"

    # What a `registry` written as a URL should be instead (the ray provider also takes hosts).
    registry_help: ClassVar[str] = (
        "Local image repositories are directories: set registry to a local path or leave it unset."
    )

    def validate(self, desired: Attributes) -> Diagnostics:
        diags = Diagnostics()
        reg = desired.get("registry")
        if isinstance(reg, str) and "://" in reg:
            diags.add_error(
                f'The {self.provider_label} provider cannot use registry "{reg}"', self.registry_help
            )
        return diags

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        if not (is_known(desired.get("name")) and is_known(desired.get("registry"))):
            return {}
        try:
            return {"repository_url": self.url(self.repo_dir(ctx, plain(desired)))}
        except PermanentError:
            return {}

    def _marker(self, path: Path) -> dict[str, Any] | None:
        try:
            data = read_json(path / MARKER)
        except PermanentError:
            return None
        return data if isinstance(data, dict) and data.get("created_by") == "mlrt" else None

    def _attributes(self, ctx: ProviderContext, attrs: Attributes, path: Path) -> Attributes:
        out = {k: v for k, v in plain(attrs).items() if k not in self.computed}
        out["name"] = file_safe_name(ctx, out)
        out["repository_url"] = self.url(path)
        return out

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        """The id is the repository's absolute path, known before create."""
        if not (is_known(desired.get("name")) and is_known(desired.get("registry"))):
            return None
        try:
            return str(self.repo_dir(ctx, plain(desired)))
        except PermanentError:
            return None

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """One scan per registry folder; only listed repositories have their layout checked."""
        return read_by_scan(self.read, requests, lambda req: Path(req.id) if req.id else None)

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        path = Path(id)
        if not path.is_dir() or not is_valid_layout(path):
            return ReadResult(None)
        if prior:
            return ReadResult({**prior, "repository_url": self.url(path)})
        default_base = self.base_dir(ctx, None)
        registry = None if path.parent == default_base else str(path.parent)
        return ReadResult({"name": path.name, "registry": registry, "repository_url": self.url(path)})

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs = plain(desired)
        path = self.repo_dir(ctx, attrs)
        name = path.name
        if path.exists() or path.is_symlink():
            marker = self._marker(path) if path.is_dir() else None
            if marker is None or marker.get("name") != name:
                raise PermanentError(
                    f"Image repository directory {path} already exists",
                    "It was not created by mlrt, so mlrt will not take it over. Choose another "
                    "name or registry, or move that directory away.",
                )
            write_layout(path)  # adopt our own leftover (crash before the state was saved)
            ctx.log(f"image_repository {name}: adopted existing mlrt repository at {path}")
            return CreateResult(str(path), self._attributes(ctx, attrs, path))
        made = _make_parents(path.parent)
        tmp = path.parent / f".{name}.creating-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            write_layout(tmp)
            atomic_write_json(
                tmp / MARKER, {"created_by": "mlrt", "name": name, "path": str(path), "address": ctx.address}
            )
            os.rename(tmp, path)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            _remove_empty(made)
            raise PermanentError(
                f"Could not create image repository {path}",
                f"{exc.strerror or exc}. Check that the registry directory is writable "
                "and that nothing else is at that path.",
            ) from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            _remove_empty(made)
            raise
        return CreateResult(str(path), self._attributes(ctx, attrs, path))

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        path = Path(id)
        if not is_valid_layout(path):
            raise PermanentError(
                f"Image repository {path} no longer exists",
                "Run `mlrt plan` to see the drift; `mlrt apply` will create it again.",
            )
        return UpdateResult(self._attributes(ctx, desired, path))

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        path = Path(id)
        if not path.exists() and not path.is_symlink():
            return
        marker = self._marker(path) if path.is_dir() and not path.is_symlink() else None
        if marker is None or marker.get("name") != path.name:
            raise PermanentError(
                f"Refusing to delete {path}",
                f"It has no mlrt marker ({MARKER}), so mlrt did not create what is there now. "
                "Remove it yourself, then `mlrt state rm` the resource.",
            )
        tomb = path.parent / f".{path.name}.deleting-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(path, tomb)
        except OSError as exc:
            raise PermanentError(
                f"Could not delete image repository {path}",
                f"{exc.strerror or exc}; it still exists. Fix the cause and run again.",
            ) from exc
        shutil.rmtree(tomb, ignore_errors=True)


def _make_parents(folder: Path) -> list[Path]:
    """Create `folder` and missing parents; return those created (deepest last) for cleanup."""
    missing: list[Path] = []
    p = folder
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_empty(list(reversed(missing)))
        raise PermanentError(
            f"Could not create directory {folder}",
            f"{exc.strerror or exc}. Set registry (or the provider's root) to a writable directory.",
        ) from exc
    return list(reversed(missing))


def _remove_empty(created: list[Path]) -> None:
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:
            break
