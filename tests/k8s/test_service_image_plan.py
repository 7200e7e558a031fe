"""The plan and render side of a kubernetes service that names an image_repository, without
building (fast): the Deployment of a built image, the warnings before a build, the plan checks,
and the image's plan decision from its hashed inputs. The build and push themselves are in
test_service_image.py (slow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlrt_iac.provider import ProviderContext, Related
from mlrt_iac.values import UNKNOWN
from providers.kit import service_image
from providers.kubernetes import KubernetesProvider
from providers.kubernetes.config import KubernetesConfig
from providers.kubernetes.render import RenderIndex, render_resource

from .scenarios import POOL, SERVICE, handler, pool_related

DIGEST = "127.0.0.1:5000/models@sha256:" + "ab" * 32
REPO = {"name": "models", "registry": "127.0.0.1:5000", "repository_url": "127.0.0.1:5000/models"}


def _service(**extra: Any) -> dict[str, Any]:
    # "build" is not among the related resources: its egress is the apply's to judge
    # (providers.kit.build_checks), so these checks do not depend on this machine's pip index.
    base = {"model": "model", "image_repository": "models", "build_external_access_integration": "build"}
    return {**SERVICE, **base, **extra}


def _render(attrs: dict[str, Any], cfg: KubernetesConfig | None = None) -> tuple[dict[str, Any], list[str]]:
    index = RenderIndex(pools={"cpu": dict(POOL)}, repos={"models": dict(REPO)})
    out = render_resource("service", "service.api", attrs, index, cfg or KubernetesConfig())
    deployment = next(o for o in out.manifests if o["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"], out.warnings


def test_a_built_image_runs_by_digest_with_the_model_baked_in() -> None:
    pod, warnings = _render(_service(image=DIGEST, model_class="app:Model", base_image="b/py:3.11"))
    server = pod["containers"][0]
    assert server["image"] == DIGEST
    assert pod["imagePullSecrets"] == [{"name": "models-pull"}]
    assert "initContainers" not in pod and "volumes" not in pod and "volumeMounts" not in server
    cmd = server["command"]
    assert cmd[cmd.index("--model-uri") + 1] == "/mlrt/model"
    assert cmd[cmd.index("--project-dir") + 1] == "/mlrt/app"  # the project's code is in the image
    assert warnings == []


def test_before_a_build_the_render_shows_the_providers_image_and_says_so() -> None:
    pod, warnings = _render(_service())
    assert pod["containers"][0]["image"] == KubernetesConfig().image
    assert pod["initContainers"][0]["name"] == "fetch-model"
    assert pod["imagePullSecrets"] == [{"name": "models-pull"}]
    assert any("built at apply" in w and "127.0.0.1:5000/models" in w for w in warnings), warnings
    assert any("no Python" in w for w in warnings), warnings
    # A base with Python (the provider's or the service's) silences the scratch warning.
    _, with_base = _render(_service(), KubernetesConfig(base_image="reg/python:3.11"))
    assert not any("no Python" in w for w in with_base)


def test_a_service_without_a_repository_renders_as_before() -> None:
    pod, warnings = _render({**SERVICE, "image": DIGEST})
    assert pod["containers"][0]["image"] == KubernetesConfig().image
    assert "imagePullSecrets" not in pod and pod["initContainers"]
    assert warnings == []


def _ctx(project: Path, private: dict[str, Any] | None = None) -> ProviderContext:
    repo = Related("image_repository.models", "image_repository", "models", dict(REPO))
    related = pool_related(**{"image_repository.models": repo})
    return ProviderContext(project, project / ".mlrt", "service.api", related=related, private=private or {})


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "model").mkdir(parents=True)
    (project / "model" / "metadata.json").write_text(json.dumps({"format": "custom"}))
    (project / "app.py").write_text("X = 1\n")
    return project


def test_plan_checks_want_a_local_model_and_warn_about_scratch(
    provider: KubernetesProvider, tmp_path: Path
) -> None:
    h = handler(provider, "service")
    project = _project(tmp_path)
    remote = h.plan_checks(_ctx(project), _service(model="s3://bucket/model"))
    assert [(f.severity, f.path) for f in remote if f.severity == "error"] == [("error", ("model",))]
    local = h.plan_checks(_ctx(project), _service())
    assert [f.severity for f in local] == ["warning"] and "no Python" in local[0].detail
    assert h.plan_checks(_ctx(project), _service(base_image="reg/python:3.11")) == []
    assert h.plan_checks(_ctx(project), dict(SERVICE)) == []  # no repository: nothing new


def test_the_image_is_planned_from_its_hashed_inputs(provider: KubernetesProvider, tmp_path: Path) -> None:
    h = handler(provider, "service")
    project = _project(tmp_path)
    desired = _service(base_image="reg/python:3.11")
    assert h.plan_computed(_ctx(project), desired, None) == {"image": UNKNOWN}
    assert h.plan_computed(_ctx(project), dict(SERVICE), None) == {}

    parts = service_image.planned_parts(_ctx(project), desired, None)
    assert parts is not None
    built = _ctx(project, {service_image.PARTS_KEY: parts, "image": DIGEST})
    prior = {**desired, "image": DIGEST, "status": "READY"}
    assert "image" not in h.diff(built, prior, desired).changed
    assert h.plan_computed(built, desired, prior) == {}

    (project / "app.py").write_text("X = 2\n")
    diff = h.diff(built, prior, desired)
    assert "image" in diff.changed
    assert diff.reasons["image"] == "new image (image inputs changed: source)"
    assert h.plan_computed(built, desired, prior) == {"image": UNKNOWN}
