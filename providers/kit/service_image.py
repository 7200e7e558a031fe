"""A service's image on the providers that build one into a named `image_repository` (local and
ray: their processes keep running on the host; the image is what `create_service` would run, an
artifact a user can copy elsewhere with `skopeo copy oci:DIR:TAG docker://...`).

The build is a plan decision, like a retrain. Its inputs (`mlrt_iac.images.input_parts`: base,
pip_requirements, framework, runtime, source, model, config) are hashed at plan time without
building anything, and kept in the service's `private` after a build:

- no image yet: `image = (known after apply)`;
- the same inputs: no change, no build work;
- other inputs: an update whose reason names them, `# new image (image inputs changed:
  pip_requirements)`; the apply builds, and only layers whose content changed are written.

The model's framework comes from its `metadata.json`; a model known only after apply (a
training's new version) makes the image known only after apply too. Without a `base_image`
(the service's, else the provider's) the image is mlrt's layers alone on `scratch`, for this
machine's Python: set a base with Python in it to run the image elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, DiffResult, ProviderContext, Related
from mlrt_iac.values import UNKNOWN, is_known

from .models import model_path
from .names import file_safe_name

if TYPE_CHECKING:  # mlrt_iac.images is imported when a service names an image_repository
    from mlrt_iac.images import ImageInputs

PARTS_KEY = "image_parts"
# The configuration is not the service's code: editing main.hcl (a max_queue, a comment) must
# not plan a new image.
SOURCE_EXCLUDES = ("*.hcl", "*.tfvars", "*.tfvars.json", "*.md")


def base_image_setting(config: Attributes, provider: str, diags: Diagnostics) -> str | None:
    """A provider block's `base_image` (what service images are built on when a service names
    none), or None; a value that is no image reference is an error in `diags`."""
    base = config.get("base_image")
    if base is None or not is_known(base):
        return None
    if not isinstance(base, str) or not base:
        diags.add_error(
            f'Invalid "base_image" in provider "{provider}"',
            'base_image is an image reference with a tag or digest ("registry/python:3.11-slim").',
        )
        return None
    return base


def repository(ctx: ProviderContext, desired: Attributes) -> Related | None:
    """The image_repository the service names, when it names one this provider manages."""
    name = desired.get("image_repository")
    if not isinstance(name, str) or not name:
        return None
    for repo in ctx.related_of("image_repository"):
        if repo.name == name:
            return repo
    return None


def _framework(model_dir: Path) -> str | None:
    import json

    try:
        meta = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fw = meta.get("framework") if isinstance(meta, dict) else None
    return fw if isinstance(fw, str) else None


def inputs(ctx: ProviderContext, desired: Attributes, base_default: str | None) -> ImageInputs | None:
    """What the service's image is built from, or None while something is known only after
    apply (the model of a training that runs in this apply)."""
    from mlrt_iac.images import ImageInputs, validate_requirements

    model = desired.get("model")
    reqs = desired.get("pip_requirements") or []
    if not (is_known(model) and is_known(reqs) and is_known(desired.get("base_image"))):
        return None
    if validate_requirements([str(r) for r in reqs]):
        return None  # the plan check reports them
    path = model_path(ctx.project_dir, model)
    if path is None:
        return None
    model_dir = Path(path)
    base = desired.get("base_image") or base_default or "scratch"
    return ImageInputs(
        base=str(base),
        pip_requirements=tuple(str(r) for r in reqs),
        framework=_framework(model_dir),
        gpu=bool(desired.get("gpu_requests")),  # a CPU service gets the framework's CPU build
        source_dir=ctx.project_dir,
        source_excludes=SOURCE_EXCLUDES,
        model_dir=model_dir,
        env=(("MLRT_MODEL_DIR", "/mlrt/model"),),
        entrypoint=_entrypoint(desired),
    )


def _entrypoint(desired: Attributes) -> tuple[str, ...]:
    cmd = ["python", "-m", "mlrt_iac.runtime.serving", "--model", "/mlrt/model", "--host", "0.0.0.0"]
    if desired.get("model_class"):
        cmd += ["--model-class", str(desired["model_class"])]
    return tuple(cmd)


def _hash_cache(ctx: ProviderContext) -> Any:
    """The project's file-hash cache (as training fingerprints use): an unchanged file is not
    read again at the next plan."""
    from mlrt_iac.config.cache import load_secret
    from mlrt_iac.runtime.content_hashes import FileHashCache

    return FileHashCache.in_dir(ctx.data_dir / "cache", load_secret(ctx.project_dir))


def planned_parts(
    ctx: ProviderContext, desired: Attributes, base_default: str | None
) -> dict[str, str] | None:
    from mlrt_iac.images import input_parts

    got = inputs(ctx, desired, base_default)
    return None if got is None else input_parts(got, hash_cache=_hash_cache(ctx))


def image_change(
    ctx: ProviderContext, prior: Attributes | None, desired: Attributes, base_default: str | None
) -> str | None:
    """Why the service needs a new image, or None when it builds none or its image stands."""
    if repository(ctx, desired) is None:
        return None
    from mlrt_iac.images import changed_inputs

    old = ctx.private.get(PARTS_KEY)
    new = planned_parts(ctx, desired, base_default)
    if prior is not None and prior.get("image") and isinstance(old, dict):
        if new is None:
            return "new image (its inputs are known only after apply)"
        moved = changed_inputs(old, new)
        return "new image (image inputs changed: " + ", ".join(moved) + ")" if moved else None
    return "new image (none built yet)"


def image_diff(
    ctx: ProviderContext, result: DiffResult, prior: Attributes, desired: Attributes, base_default: str | None
) -> DiffResult:
    """`result` plus an `image` change, with its reason, when the service needs a new image."""
    why = image_change(ctx, prior, desired, base_default)
    if why is not None:
        result.changed = sorted({*result.changed, "image"})
        result.reasons.setdefault("image", why)
    return result


def planned_image(
    ctx: ProviderContext, prior: Attributes | None, desired: Attributes, base_default: str | None
) -> Attributes:
    """The image known at plan time: no build, none; standing inputs keep it; else known after apply."""
    if repository(ctx, desired) is None:
        return {"image": None} if prior is not None and prior.get("image") else {}
    if image_change(ctx, prior, desired, base_default) is None:
        return {}
    return {"image": UNKNOWN}


def target_of(repo: Related, tag: str) -> Any:
    """Where the image goes: the repository's OCI layout directory (`oci:` URL), else its
    registry repository (`host[:port]/path`, pushed over the OCI distribution API with the
    credentials of the usual Docker config file)."""
    from mlrt_iac.images import OciLayoutTarget, RegistryTarget

    url = str(repo.attributes.get("repository_url") or "")
    if url.startswith("oci:"):
        return OciLayoutTarget(Path(url[len("oci:") :]), tag)
    if not url or "://" in url or "/" not in url:
        raise PermanentError(
            f'Image repository "{repo.name}" has no usable repository_url',
            f"Its repository_url is {url!r}: an oci: directory or host[:port]/path is needed.",
        )
    return RegistryTarget(url, tag)


def build(
    ctx: ProviderContext, desired: Attributes, base_default: str | None
) -> tuple[str | None, dict[str, Any]]:
    """Build the service's image into its repository when it names one: (image reference,
    private data to keep). Unchanged inputs reuse the image already built."""
    repo = repository(ctx, desired)
    if repo is None:
        return None, {}
    from mlrt_iac.images import build_image, changed_inputs, input_parts

    got = inputs(ctx, desired, base_default)
    if got is None:
        raise PermanentError(
            f"Cannot build the image of {ctx.address}",
            "Its model is not a folder mlrt can read. Check the service's model argument.",
        )
    cache = _hash_cache(ctx)
    parts = input_parts(got, hash_cache=cache)
    old = ctx.private.get(PARTS_KEY)
    if isinstance(old, dict) and not changed_inputs(old, parts) and ctx.private.get("image"):
        return str(ctx.private["image"]), {PARTS_KEY: parts, "image": ctx.private["image"]}
    tag = file_safe_name(ctx, desired)
    built = build_image(got, target_of(repo, tag), progress=ctx.log, hash_cache=cache)
    return built.reference, {PARTS_KEY: parts, "image": built.reference}
