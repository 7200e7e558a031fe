"""One real local Ray cluster for the Ray tests, started once per session and always stopped.

It is started with `ray start --head` through the provider's own cluster helper (a private temp
dir and free ports, so it never touches another Ray cluster on the machine); the finalizer ends
every process of that cluster and checks none is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.ray import cluster


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.ClusterRecord]:
    log_dir = tmp_path_factory.mktemp("ray-cluster")
    # 4 logical CPUs on this 2-core machine: two training workers and a Serve replica fit at once.
    rec = cluster.new_record("mlrt-test", log_dir, cluster.NodeSize(cpus=4, gpus=0, memory_gib=4))
    try:
        cluster.start_head(rec, log_dir / "ray-start.log")
        yield rec
    finally:
        cluster.stop(rec)
        assert not cluster.cluster_pids(rec), "Ray processes of the test cluster are still running"


@pytest.fixture
def dashboard(ray_cluster: cluster.ClusterRecord) -> str:
    return ray_cluster.dashboard_url


def write_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root
