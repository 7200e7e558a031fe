"""The same scenarios against a real cluster, when MLRT_TEST_KUBECONFIG points at one.

The test creates a namespace for the state backend and removes it (and the pool's namespace)
afterwards. Readiness of RayCluster/RayJob needs the KubeRay operator in that cluster; the
service scenario suspends the service (replicas 0) so it needs no runtime image.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.kubernetes import KubeClient, ObjRef
from mlrt_iac.errors import StateLockedError
from mlrt_iac.provider import ProviderContext, Related
from mlrt_iac.state import LockInfo, StateDocument
from providers.kubernetes import KubernetesProvider
from providers.kubernetes.handlers import KubeHandler
from state.kubernetes_backend import KubernetesBackend

from .schemas import validate_manifest

pytestmark = pytest.mark.skipif(
    not os.environ.get("MLRT_TEST_KUBECONFIG"), reason="live cluster tests need MLRT_TEST_KUBECONFIG"
)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[KubeClient, str]]:
    kubeconfig = os.environ["MLRT_TEST_KUBECONFIG"]
    client = KubeClient(kubeconfig)
    ns = f"mlrt-test-{uuid.uuid4().hex[:6]}"
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    try:
        yield client, ns
    finally:
        client.delete(ObjRef("v1", "Namespace", "", ns))
        client.close()


def test_live_backend_round_trip_and_lock(live: tuple[KubeClient, str], tmp_path: Path) -> None:
    _, ns = live
    cfg = {
        "namespace": ns,
        "secret_suffix": "live",
        "kubeconfig": os.environ["MLRT_TEST_KUBECONFIG"],
        "lease_duration_secs": 15,
    }
    a, b = KubernetesBackend(tmp_path, cfg), KubernetesBackend(tmp_path, cfg)
    doc = StateDocument.new()
    a.write(doc)
    assert a.read().same_content(doc)  # type: ignore[union-attr]
    lock_id = a.lock(LockInfo(operation="apply", who="live-a"))
    with pytest.raises(StateLockedError):
        b.lock(LockInfo(operation="plan", who="live-b"), timeout=0.5)
    a.unlock(lock_id)
    b.force_unlock(b.lock(LockInfo(operation="plan", who="live-b")))
    a.close()
    b.close()


def test_live_service_apply_drift_delete(live: tuple[KubeClient, str], tmp_path: Path) -> None:
    client, ns = live
    p = KubernetesProvider()
    p.configure(
        {
            "kubeconfig": os.environ["MLRT_TEST_KUBECONFIG"],
            "namespace": ns,
            "poll_interval_secs": 1,
            "ready_timeout_secs": 120,
        },
        ProviderContext(tmp_path, tmp_path),
    )
    h = p.handler("service")
    assert isinstance(h, KubeHandler)
    attrs = {
        "name": "api",
        "compute_pool": "cpu",
        "model": "s3://bucket/model",
        "max_instances": 1,
        "suspended": True,
        "ingress_enabled": True,
        "num_workers": 3,  # engine-filled values, as a real apply hands them over
        "max_queue": 12,
        "gpu_requests": 0,
        "functions": ["predict"],
    }
    c = ProviderContext(
        tmp_path,
        tmp_path,
        "service.api",
        related={
            "compute_pool.cpu": Related(
                "compute_pool.cpu", "compute_pool", "cpu", {"name": "cpu", "instance_family": "CPU_X64_XS"}
            )
        },
    )
    for obj in p.render([]).manifests + h.render(c, attrs).manifests:
        validate_manifest(obj)
    created = h.create(c, attrs)
    try:
        first = h.read(c, created.id, created.attributes).attributes
        assert first is not None and "drift" not in first
        h.update(c, created.id, created.attributes, attrs)  # no-op re-apply
        client.request(
            "PATCH",
            ObjRef("v1", "Service", ns, "api").path(),
            "edit",
            {"fieldManager": "kubectl-edit"},
            {"metadata": {"labels": {"app.kubernetes.io/managed-by": "someone"}}},
            "application/merge-patch+json",
        )
        drifted = h.read(c, created.id, created.attributes).attributes
        assert drifted is not None and drifted["drift"]
    finally:
        h.delete(c, created.id, created.attributes)
    assert h.read(c, created.id, created.attributes).attributes is None
    p.close()
