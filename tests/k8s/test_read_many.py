"""Kubernetes `read_many`: one paginated LIST per kind and namespace, the same results as `read`,
drift and deletions seen through the lists, unmanaged objects reported, consistent snapshots.

Against the test API server (real REST: labelSelector, limit/continue, resourceVersion); the
request counts come from its `apiserver_request_total` counter, as from a real server.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.kubernetes import Expired, KubeClient
from mlrt_iac.provider import BatchReader, ReadRequest
from providers.kubernetes.handlers import KubeHandler

from .apiserver import TestApiServer
from .fleet import POOLS, SERVICE_KINDS, Fleet, make_fleet, seed

SERVICES = 12
PAGE = 5


@pytest.fixture()
def fleet(apiserver: TestApiServer, kubeconfig: Path, tmp_path: Path) -> Iterator[Fleet]:
    with apiserver.store.lock:
        apiserver.store.objects.clear()
        apiserver.store.owners.clear()
        apiserver.store.pending_delete.clear()
        apiserver.store.controllers.clear()
        apiserver.faults.clear()
    f = make_fleet(SERVICES, kubeconfig, tmp_path, page=PAGE)
    seed(apiserver, f)
    try:
        yield f
    finally:
        f.provider.close()


def _handler(fleet: Fleet, type_name: str) -> KubeHandler:
    h = fleet.provider.handler(type_name)
    assert isinstance(h, KubeHandler) and isinstance(h, BatchReader)
    return h


def _requests(fleet: Fleet, type_name: str) -> list[ReadRequest]:
    return [
        ReadRequest(fleet.context(e), e.id, dict(e.attributes)) for e in fleet.entries if e.type == type_name
    ]


def _diff_counts(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _both(fleet: Fleet, type_name: str) -> tuple[list[Any], list[Any], list[str]]:
    h = _handler(fleet, type_name)
    reqs = _requests(fleet, type_name)
    batch = h.read_many(fleet.ctx, reqs)
    many = [r if isinstance(r, Exception) else r.attributes for r in batch.results]
    one = [h.read(r.ctx, r.id, r.prior).attributes for r in reqs]
    return many, one, batch.unmanaged


def test_one_list_per_kind_and_namespace_and_page(apiserver: TestApiServer, fleet: Fleet) -> None:
    h = _handler(fleet, "service")
    reqs = _requests(fleet, "service")
    before = apiserver.request_counts()
    batch = h.read_many(fleet.ctx, reqs)
    counts = _diff_counts(apiserver.request_counts(), before)
    pages = math.ceil(SERVICES / len(POOLS) / PAGE)
    assert pages == 2  # the page size really splits each list
    assert counts == {"LIST": len(SERVICE_KINDS) * len(POOLS) * pages}
    assert [r.attributes for r in batch.results] == [r.prior for r in reqs]  # nothing drifted
    assert batch.unmanaged == []

    before = apiserver.request_counts()
    for r in reqs:
        h.read(r.ctx, r.id, r.prior)
    assert _diff_counts(apiserver.request_counts(), before) == {"GET": SERVICES * len(SERVICE_KINDS)}


def test_pools_list_namespaces_cluster_wide(apiserver: TestApiServer, fleet: Fleet) -> None:
    before = apiserver.request_counts()
    many, one, unmanaged = _both(fleet, "compute_pool")
    assert many == one and all(m is not None for m in many) and unmanaged == []
    counts = _diff_counts(apiserver.request_counts(), before)
    # Namespace once (cluster-scoped); ResourceQuota, the head's ServiceAccount, RayCluster and
    # the head's NetworkPolicy once per namespace.
    assert counts["LIST"] == 1 + 4 * len(POOLS)


def test_drift_and_deletion_seen_through_lists_as_through_gets(
    apiserver: TestApiServer, fleet: Fleet
) -> None:
    apiserver.edit("Deployment", "mlrt-a", "s-0", {"spec": {"replicas": 5}})
    apiserver.remove("Service", "mlrt-b", "s-1")
    apiserver.remove("Deployment", "mlrt-a", "s-2")  # the primary: the resource is gone
    apiserver.edit("PodDisruptionBudget", "mlrt-b", "s-3", {"spec": {"maxUnavailable": 2}})
    many, one, unmanaged = _both(fleet, "service")
    assert many == one
    assert many[2] is None
    assert any(".spec.replicas: 1 -> 5" in line for line in many[0]["drift"])
    assert many[1]["drift"] == ["Service mlrt-b/s-1 is missing"]
    assert many[3]["drift"] == [
        "PodDisruptionBudget mlrt-b/s-3 .spec.maxUnavailable: 1 -> 2 (field .spec.maxUnavailable "
        "is now owned by kubectl-edit; apply will take it back)"
    ]
    assert all(m is not None and "drift" not in m for m in many[4:])
    # What the gone Deployment's resource still has (Service, Ingress...) is not "unmanaged":
    # recreating the resource re-applies it.
    assert unmanaged == []


def test_unmanaged_objects_are_reported_not_read(apiserver: TestApiServer, fleet: Fleet) -> None:
    client = KubeClient(str(fleet.provider.settings.kubeconfig))
    try:
        stray = fleet.entries[-1].manifests[0]
        ghost = {
            **stray,
            "metadata": {
                **stray["metadata"],
                "name": "ghost",
                "annotations": {"mlrt.dev/address": "service.ghost"},
            },
        }
        client.apply(ghost)
        unlabelled = {**ghost, "metadata": {"name": "hand-made", "namespace": "mlrt-a"}}
        client.apply(unlabelled)  # not mlrt's: outside the label selector
    finally:
        client.close()
    many, one, unmanaged = _both(fleet, "service")
    assert many == one
    ns = stray["metadata"]["namespace"]
    assert unmanaged == [f"Deployment {ns}/ghost (service.ghost)"]
    # The pools' handler lists other kinds and does not claim a service's Deployment.
    assert _both(fleet, "compute_pool")[2] == []


def test_a_failed_list_fails_only_the_resources_that_need_it(apiserver: TestApiServer, fleet: Fleet) -> None:
    h = _handler(fleet, "service")
    reqs = _requests(fleet, "service")
    apiserver.inject(503, count=1, method="GET")  # the first LIST: Deployments in mlrt-a
    batch = h.read_many(fleet.ctx, reqs)
    failed = [i for i, r in enumerate(batch.results) if isinstance(r, Exception)]
    assert failed == [i for i in range(SERVICES) if i % 2 == 0]  # the services in mlrt-a
    assert all(r.attributes == reqs[i].prior for i, r in enumerate(batch.results) if i % 2)


def test_pages_come_from_one_snapshot(apiserver: TestApiServer, fleet: Fleet) -> None:
    client = KubeClient(str(fleet.provider.settings.kubeconfig))
    try:
        first = client.request(
            "GET",
            "/apis/apps/v1/namespaces/mlrt-a/deployments",
            "listing",
            {"labelSelector": "app.kubernetes.io/managed-by=mlrt", "limit": "4"},
        )
        assert [i["metadata"]["name"] for i in first["items"]] == ["s-0", "s-10", "s-2", "s-4"]
        assert "kind" not in first["items"][0]  # as kube-apiserver lists built-in kinds
        assert first["metadata"]["remainingItemCount"] == 2
        apiserver.edit("Deployment", "mlrt-a", "s-8", {"spec": {"replicas": 7}})  # after the snapshot
        rest = client.request(
            "GET",
            "/apis/apps/v1/namespaces/mlrt-a/deployments",
            "listing",
            {
                "labelSelector": "app.kubernetes.io/managed-by=mlrt",
                "limit": "4",
                "continue": first["metadata"]["continue"],
            },
        )
        assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        assert [i["metadata"]["name"] for i in rest["items"]] == ["s-6", "s-8"]
        assert rest["items"][1]["spec"]["replicas"] == 1  # the snapshot, not the edit
        assert "continue" not in rest["metadata"]

        listed = client.list("apps/v1", "Deployment", "mlrt-a", "app.kubernetes.io/managed-by=mlrt", 4)
        assert listed.pages == 2 and len(listed.items) == SERVICES // 2
        assert listed.items[0]["kind"] == "Deployment"  # put back by the client
    finally:
        client.close()


def test_an_expired_continue_token_falls_back_to_one_full_list(
    apiserver: TestApiServer, fleet: Fleet
) -> None:
    client = KubeClient(str(fleet.provider.settings.kubeconfig))
    try:
        first = client.request(
            "GET", "/apis/apps/v1/namespaces/mlrt-a/deployments", "listing", {"limit": "4"}
        )
        apiserver.store.compact()
        with pytest.raises(Expired):
            client.request(
                "GET",
                "/apis/apps/v1/namespaces/mlrt-a/deployments",
                "listing",
                {"limit": "4", "continue": first["metadata"]["continue"]},
            )
        calls: list[str] = []
        before = apiserver.request_counts()
        # Compaction between the pages of client.list: the next page expires, the client reads
        # everything again in one request.
        original_list = apiserver.store.list

        def listing(*args: Any, **kwargs: Any) -> dict[str, Any]:
            out = original_list(*args, **kwargs)
            if not calls:
                calls.append("compact")
                apiserver.store.compact()
            return out

        apiserver.store.list = listing  # type: ignore[method-assign]
        try:
            listed = client.list("apps/v1", "Deployment", "mlrt-a", "", 4)
        finally:
            apiserver.store.list = original_list  # type: ignore[method-assign]
        assert len(listed.items) == SERVICES // 2
        assert listed.pages == 3  # page 1, the expired page 2, one full list
        assert _diff_counts(apiserver.request_counts(), before) == {"LIST": 3}
    finally:
        client.close()


@pytest.mark.slow  # over 7 s: many CLI runs or a deliberate wait
def test_plan_warns_about_unmanaged_objects_and_changes_nothing(
    apiserver: TestApiServer, fleet: Fleet, kubeconfig: Path, tmp_path: Path
) -> None:
    from tests.e2e.helpers import run_mlrt

    from .fleet import write_project

    project = tmp_path / "proj"
    write_project(fleet, project, kubeconfig, PAGE)
    clean = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color")
    assert clean.returncode == 0, clean.stdout + clean.stderr  # the fleet is what apply leaves
    assert "not in this state" not in clean.stdout + clean.stderr

    stray = next(  # a RayCluster
        m for e in fleet.entries if e.type == "compute_pool" for m in e.manifests if m["kind"] == "RayCluster"
    )
    client = KubeClient(str(kubeconfig))
    try:
        client.apply(
            {
                **stray,
                "metadata": {
                    **stray["metadata"],
                    "name": "old-pool",
                    "annotations": {"mlrt.dev/address": "compute_pool.old"},
                },
            }
        )
    finally:
        client.close()
    warned = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color")
    out = warned.stdout + warned.stderr
    assert warned.returncode == 0, out  # reported, not deleted
    assert "1 object managed by mlrt but not in this state" in out
    assert f"RayCluster {stray['metadata']['namespace']}/old-pool (compute_pool.old)" in out

    # The per-object path sees the same world, without the listing that finds leftovers.
    old = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color", env={"MLRT_READ_MANY": "0"})
    assert old.returncode == 0 and "not in this state" not in old.stdout + old.stderr
