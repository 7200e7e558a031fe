"""`mlrt render` of the kubernetes example through the real CLI: every file validates strictly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .schemas import REPO, validate_manifest


def render_example(name: str, out: Path) -> list[Path]:
    """Render a copy of the example (the source tree is never written: no .mlrt/ left in it)."""
    project = out.with_name(out.name + "-project")
    if not project.exists():
        shutil.copytree(REPO / "examples" / name, project, ignore=shutil.ignore_patterns(".mlrt"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlrt_iac.cli.main",
            f"-chdir={project}",
            "render",
            "-out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(out.glob("*.yaml"))


def test_gitops_example_renders_valid_identical_manifests(tmp_path: Path) -> None:
    first = render_example("gitops", tmp_path / "a")
    kinds = set()
    for f in first:
        obj = yaml.safe_load(f.read_text())
        if f.name != "kustomization.yaml":
            validate_manifest(obj)
            kinds.add(obj["kind"])
    assert {
        "Namespace",
        "ResourceQuota",
        "RayCluster",
        "RayJob",
        "NetworkPolicy",
        "CiliumNetworkPolicy",
        "Deployment",
        "Service",
        "Ingress",
        "PodDisruptionBudget",
    } <= kinds
    second = render_example("gitops", tmp_path / "b")
    assert [f.name for f in first] == [f.name for f in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))


def test_local_examples_render_valid_manifests_for_kubernetes(tmp_path: Path) -> None:
    """The local examples, rendered as if on Kubernetes, are schema-valid too."""
    for name in ("quickstart", "multi-team"):
        files = render_example(name, tmp_path / name)
        assert any(f.name.startswith("raycluster-") for f in files), [f.name for f in files]
        for f in files:
            if f.name != "kustomization.yaml":
                validate_manifest(yaml.safe_load(f.read_text()))
