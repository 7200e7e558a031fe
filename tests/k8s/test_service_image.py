"""A kubernetes service that names an image_repository builds its image and pushes it to the
repository's registry before its Deployment is applied (issue 10), through the real CLI against
the test API server and a real registry (Debian's docker-registry on 127.0.0.1 with htpasswd
auth, credentials from a temporary DOCKER_CONFIG as a user's `docker login` would leave them).

The base is the tiny test image pushed into that registry (it carries PYTHON_VERSION), as a real
cluster needs a base with Python. Slow: the runtime's packages are always pip-installed into the
image, so a machine whose layer cache (~/.cache/mlrt/images) has not seen them runs pip once
(from the local wheels and file: indexes pip is configured with here); later runs reuse them.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.helpers import read_state, run_mlrt
from tests.support.oci_registry import RegistryServer, running_registry, skopeo_copy, write_base_layout

from .apiserver import TestApiServer

pytestmark = [pytest.mark.slow, pytest.mark.images]

CONFIG = """
mlrt {
  default_provider = "kubernetes"
}

provider "kubernetes" {
  kubeconfig         = "%(kubeconfig)s"
  poll_interval_secs = 0.05
  ready_timeout_secs = 30
  base_image         = "%(base)s"
}

compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
  min_nodes       = 1
  max_nodes       = 1
}

network_rule "pypi" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org:443", "pypi.python.org:443", "pythonhosted.org:443", "files.pythonhosted.org:443"]
}

external_access_integration "build" {
  allowed_network_rules = [network_rule.pypi]
}

image_repository "models" {
  registry = "%(registry)s"
}

service "api" {
  compute_pool                      = compute_pool.cpu
  model                             = "model"
  image_repository                  = image_repository.models
  build_external_access_integration = external_access_integration.build
}
"""


def _docker_config(directory: Path, registry: RegistryServer) -> Path:
    directory.mkdir()
    token = base64.b64encode(registry.creds.encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return directory


def test_a_kubernetes_service_builds_pushes_and_runs_its_image(
    apiserver: TestApiServer, tmp_path: Path
) -> None:
    apiserver.auto_ready(after_gets=1)
    with running_registry(tmp_path / "registry") as registry:
        layout = tmp_path / "base-layout"
        write_base_layout(layout, "base")
        base = f"{registry.host}/base/python:3.11"
        skopeo_copy(f"oci:{layout}:base", f"docker://{base}", registry)
        env = {"DOCKER_CONFIG": str(_docker_config(tmp_path / "docker", registry))}

        project = tmp_path / "proj"
        (project / "model").mkdir(parents=True)
        (project / "model" / "metadata.json").write_text(json.dumps({"format": "custom"}))
        (project / "main.hcl").write_text(
            CONFIG
            % {
                "kubeconfig": apiserver.kubeconfig(tmp_path / "kubeconfig"),
                "base": base,
                "registry": registry.host,
            }
        )
        applied = run_mlrt(project, "apply", "-auto-approve", env=env, timeout=900)
        assert applied.returncode == 0, applied.stdout[-4000:] + applied.stderr[-3000:]

        state = {r["address"]: r for r in read_state(project)["resources"]}
        image = str(state["service.api"]["attributes"]["image"])
        assert image.startswith(f"{registry.host}/models@sha256:"), image
        deployment = apiserver.get("Deployment", "mlrt-cpu", "api")
        assert deployment is not None
        pod = deployment["spec"]["template"]["spec"]
        server = pod["containers"][0]
        assert server["image"] == image
        assert pod["imagePullSecrets"] == [{"name": "models-pull"}]
        assert "initContainers" not in pod  # the model is in the image: nothing to fetch
        assert server["command"][server["command"].index("--model-uri") + 1] == "/mlrt/model"

        repo, digest = image.split("@", 1)
        raw = subprocess.run(
            [
                "skopeo",
                "inspect",
                "--raw",
                "--creds",
                registry.creds,
                "--tls-verify=false",
                f"docker://{image}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert raw.returncode == 0, raw.stderr
        assert repo == f"{registry.host}/models" and digest.startswith("sha256:")
        assert json.loads(raw.stdout)["layers"]

        # Nothing changed: no build, no change.
        again = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color", env=env)
        assert again.returncode == 0, again.stdout + again.stderr

        # A new module in the project: the source input changed, a new image is planned.
        (project / "helpers_extra.py").write_text("SCALE = 2\n")
        planned = run_mlrt(project, "plan", "-no-color", env=env)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert "# new image (image inputs changed: source)" in planned.stdout, planned.stdout
