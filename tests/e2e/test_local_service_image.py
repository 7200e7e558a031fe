"""A local service that names an image_repository builds its image into it (issue 10, item 7):
the quickstart with `image_repository` and a build integration on its service. The first apply
builds (a CPU service gets xgboost-cpu; the packages come from the session's layer cache when tests/e2e/images built
them first), the image is pinned by digest in the OCI layout that `skopeo` reads, a plan with
nothing changed plans no build, and a source change rebuilds the source layer alone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.helpers import read_state, run_mlrt

pytestmark = [pytest.mark.slow, pytest.mark.images]

REPO = Path(__file__).resolve().parents[2]

BUILD = """
network_rule "pypi_rule" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org:443", "pypi.python.org:443", "pythonhosted.org:443", "files.pythonhosted.org:443"]
}

external_access_integration "build" {
  allowed_network_rules = [network_rule.pypi_rule]
}
"""


def _service_image(project: Path) -> str:
    state = {r["address"]: r for r in read_state(project)["resources"]}
    return str(state["service.churn"]["attributes"]["image"])


def test_a_local_service_builds_its_image_into_its_repository(tmp_path: Path) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", project, ignore=shutil.ignore_patterns(".mlrt"))
    main = project / "main.hcl"
    text = main.read_text()
    assert "  max_queue    = 64\n}" in text
    main.write_text(
        text.replace(
            "  max_queue    = 64\n}",
            "  max_queue    = 64\n  image_repository = image_repository.models\n"
            "  build_external_access_integration = external_access_integration.build\n}",
        )
        + BUILD
    )
    try:
        applied = run_mlrt(project, "apply", "-auto-approve", timeout=900)
        assert applied.returncode == 0, applied.stdout[-4000:] + applied.stderr[-3000:]
        assert "layer packages-pyarrow:" in applied.stdout  # a big distribution in a layer of its own
        image = _service_image(project)
        layout = project / ".mlrt" / "registry" / "models"
        assert image.startswith(f"oci:{layout}@sha256:"), image
        raw = subprocess.run(
            ["skopeo", "inspect", "--raw", f"oci:{layout}:churn"], capture_output=True, text=True, check=True
        ).stdout
        manifest = json.loads(raw)
        assert len(manifest["layers"]) >= 5
        config = json.loads(
            subprocess.run(
                ["skopeo", "inspect", "--config", "--raw", f"oci:{layout}:churn"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert config["config"]["Env"] and "org.mlrt.inputs" in config["config"]["Labels"]
        assert "/mlrt/model" in " ".join(config["config"]["Cmd"])

        # Nothing changed: no build work, no change.
        again = run_mlrt(project, "plan", "-detailed-exitcode")
        assert again.returncode == 0, again.stdout + again.stderr

        # A new module in the project: the source layer alone is written again.
        (project / "helpers_extra.py").write_text("SCALE = 2\n")
        planned = run_mlrt(project, "plan", "-no-color")
        assert "# new image (image inputs changed: source)" in planned.stdout, planned.stdout
        rebuilt = run_mlrt(project, "apply", "-auto-approve", timeout=600)
        assert rebuilt.returncode == 0, rebuilt.stdout[-4000:] + rebuilt.stderr[-3000:]
        assert "layer source:" in rebuilt.stdout and "(written)" in rebuilt.stdout
        assert "(reused)" in rebuilt.stdout
        assert "pip installed" not in rebuilt.stdout  # the packages layers came from the cache
        assert _service_image(project) != image
    finally:
        run_mlrt(project, "destroy", "-auto-approve", timeout=300)
