"""Apply, read, drift and delete through the real kubernetes client against the test API server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clients.kubernetes import KubeClient, ObjRef
from mlrt_iac.errors import DeadlineExceeded, PermanentError, RetryableError
from mlrt_iac.provider import PlannedResource, ProviderContext, ReadRequest, Related
from providers.kubernetes import KubernetesProvider

from .apiserver import TestApiServer
from .conftest import ctx
from .scenarios import POOL, SERVICE, handler, pool_ctx, pool_related, service_ctx

NS = "mlrt-cpu"


@pytest.fixture(autouse=True)
def _clean(apiserver: TestApiServer) -> None:
    with apiserver.store.lock:
        apiserver.store.objects.clear()
        apiserver.store.owners.clear()
        apiserver.store.pending_delete.clear()
        apiserver.store.controllers.clear()
        apiserver.faults.clear()
    apiserver.auto_ready(after_gets=2)


def test_pool_create_noop_reapply_and_delete(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    h = handler(provider, "compute_pool")
    progress: list[str] = []
    c = pool_ctx(tmp_path)
    c.progress = progress.append
    created = h.create(c, dict(POOL))
    assert created.id == f"RayCluster/{NS}/cpu"
    assert created.attributes["state"] == "ACTIVE" and len(created.attributes["nodes"]) == 1
    assert any("state=" in p for p in progress)  # it waited for the controller
    cluster = apiserver.get("RayCluster", NS, "cpu")
    assert cluster is not None and cluster["metadata"]["managedFields"][0]["manager"] == "mlrt"
    assert apiserver.get("ResourceQuota", NS, "cpu-quota") is not None
    rv = {o["kind"]: o["metadata"]["resourceVersion"] for o in apiserver.objects()}

    # Refresh: nothing drifted; a no-op re-apply changes nothing on the server.
    read = h.read(pool_ctx(tmp_path), created.id, created.attributes)
    assert read.attributes is not None and "drift" not in read.attributes
    assert not h.diff(c, read.attributes, dict(POOL)).changed
    h.update(pool_ctx(tmp_path), created.id, created.attributes, dict(POOL))
    assert {
        o["kind"]: o["metadata"]["resourceVersion"] for o in apiserver.objects() if o["kind"] != "RayCluster"
    } == {k: v for k, v in rv.items() if k != "RayCluster"}
    assert apiserver.get("RayCluster", NS, "cpu")["metadata"]["generation"] == 1  # type: ignore[index]

    # Scale: an in-place update of the worker group.
    scaled = h.update(pool_ctx(tmp_path), created.id, created.attributes, {**POOL, "active_nodes": 2})
    assert len(scaled.attributes["nodes"]) == 2
    assert apiserver.get("RayCluster", NS, "cpu")["spec"]["workerGroupSpecs"][0]["replicas"] == 2  # type: ignore[index]

    # Delete: foreground, waits until each object is gone.
    h.delete(pool_ctx(tmp_path), created.id, scaled.attributes)
    assert apiserver.objects() == []
    deletes = [(m, p) for m, p in apiserver.store.requests if m == "DELETE"]
    assert deletes[-1][1] == f"/api/v1/namespaces/{NS}"
    assert h.read(pool_ctx(tmp_path), created.id, scaled.attributes).attributes is None


def test_drift_after_out_of_band_change_and_conflict(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    pools = handler(provider, "compute_pool")
    pools.create(pool_ctx(tmp_path), dict(POOL))
    h = handler(provider, "service")
    created = h.create(service_ctx(tmp_path), dict(SERVICE))
    assert created.attributes["endpoint"] == f"http://api.{NS}.svc.cluster.local:8080"
    assert created.attributes["status"] == "READY"

    apiserver.scale("Deployment", NS, "api", 5)  # `kubectl scale`: kubectl-scale owns replicas
    read = h.read(service_ctx(tmp_path), created.id, created.attributes)
    assert read.attributes["drift"] == [
        f"Deployment {NS}/api .spec.replicas: 1 -> 5 (field .spec.replicas is now owned by "
        "kubectl-scale; apply will take it back)"
    ]
    diff = h.diff(service_ctx(tmp_path), read.attributes, dict(SERVICE))
    assert diff.changed == ["drift"] and "spec.replicas" in diff.reasons["drift"]

    # With force_conflicts = false the plan says apply will fail, and it does, naming the
    # other field manager...
    kept = KubernetesProvider()
    kept.configure({**provider.config, "force_conflicts": False}, ctx(tmp_path))
    try:
        strict = handler(kept, "service")
        (line,) = strict.read(service_ctx(tmp_path), created.id, created.attributes).attributes["drift"]
        assert "apply will fail with a conflict" in line and "force_conflicts = false" in line
        with pytest.raises(PermanentError) as err:
            strict.update(service_ctx(tmp_path), created.id, read.attributes, dict(SERVICE))
        assert '"kubectl-scale"' in err.value.summary and "force_conflicts" in err.value.detail
    finally:
        kept.close()
    # ...while by default (issue 11, bug 3) apply takes the field back: no 409 for the user.
    h.update(service_ctx(tmp_path), created.id, read.attributes, dict(SERVICE))
    live = apiserver.get("Deployment", NS, "api")
    assert live is not None and live["spec"]["replicas"] == 1
    assert "kubectl-scale" not in {m["manager"] for m in live["metadata"]["managedFields"]}
    again = h.read(service_ctx(tmp_path), created.id, created.attributes)
    assert "drift" not in again.attributes

    # A secondary object deleted out of band is drift; the primary one deleted means gone.
    apiserver.remove("Service", NS, "api")
    assert h.read(service_ctx(tmp_path), created.id, created.attributes).attributes["drift"] == [
        f"Service {NS}/api is missing"
    ]
    apiserver.remove("Deployment", NS, "api")
    assert h.read(service_ctx(tmp_path), created.id, created.attributes).attributes is None


def test_service_update_removes_objects_no_longer_rendered(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    handler(provider, "compute_pool").create(pool_ctx(tmp_path), dict(POOL))
    h = handler(provider, "service")
    with_ingress = {**SERVICE, "ingress_enabled": True}
    created = h.create(service_ctx(tmp_path), with_ingress)
    assert apiserver.get("Ingress", NS, "api") is not None
    h.update(service_ctx(tmp_path), created.id, created.attributes, dict(SERVICE))
    assert apiserver.get("Ingress", NS, "api") is None
    assert apiserver.get("Deployment", NS, "api") is not None


def test_transient_errors_are_raised_for_the_engine_to_retry(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    """429 and 5xx on an apply are not retried by the handler (nor by urllib3): the create raises
    RetryableError with the server's Retry-After, after removing what it applied. A failed
    readiness poll is polled again."""
    h = handler(provider, "compute_pool")
    apiserver.inject(429, count=1, retry_after=0.25, method="PATCH")
    with pytest.raises(RetryableError) as err:
        h.create(pool_ctx(tmp_path), dict(POOL))
    assert "429" in err.value.summary and err.value.delay == 0.25
    assert apiserver.objects() == []

    # The engine's retry is a plain second call: it succeeds once the server answers.
    patches = sum(m == "PATCH" for m, _ in apiserver.store.requests)
    apiserver.inject(500, count=1, method="GET")  # the first readiness poll fails ...
    # ... and is polled again: a status read is not an operation to redo, so the objects
    # already applied stay and are not applied a second time.
    assert h.create(pool_ctx(tmp_path), dict(POOL)).attributes["state"] == "ACTIVE"
    assert sum(m == "PATCH" for m, _ in apiserver.store.requests) - patches == 5  # each object once
    assert all(f.count == 0 for f in apiserver.faults)


def test_client_makes_each_request_once(kubeconfig: Path, apiserver: TestApiServer) -> None:
    """urllib3's own retries are off: a 503 reaches the caller as a RetryableError."""
    apiserver.inject(503, count=1, method="GET")
    client = KubeClient(str(kubeconfig))
    try:
        with pytest.raises(RetryableError):
            client.get(ObjRef("v1", "Namespace", "", "x"))
        assert client.get(ObjRef("v1", "Namespace", "", "x")) is None
    finally:
        client.close()


def test_failed_create_leaves_nothing(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    handler(provider, "compute_pool").create(pool_ctx(tmp_path), dict(POOL))
    with apiserver.store.lock:
        apiserver.store.controllers.clear()
    apiserver.auto_ready(after_gets=1, job_status="FAILED")
    h = handler(provider, "training")
    c = ProviderContext(tmp_path, tmp_path / ".mlrt", "training.t", related=pool_related())
    with pytest.raises(PermanentError) as err:
        h.create(
            c,
            {"name": "t", "compute_pool": "cpu", "framework": "xgboost", "external_access_integrations": []},
        )
    assert "FAILED" in err.value.detail
    assert apiserver.get("RayJob", NS, "t") is None


def test_training_runs_to_success(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    handler(provider, "compute_pool").create(pool_ctx(tmp_path), dict(POOL))
    h = handler(provider, "training")
    eai = {"name": "eai", "enabled": True, "effective_egress": ["10.0.0.0/8", "pypi.org:443"]}
    related = pool_related(
        **{
            "external_access_integration.eai": Related(
                "external_access_integration.eai", "external_access_integration", "eai", eai
            )
        }
    )
    c = ProviderContext(tmp_path, tmp_path / ".mlrt", "training.t", related=related)
    logs: list[str] = []
    c.log = logs.append
    created = h.create(
        c,
        {
            "name": "t",
            "compute_pool": "cpu",
            "framework": "xgboost",
            "artifact_location": "s3://b/m",
            "external_access_integrations": ["eai"],
        },
    )
    attrs = created.attributes
    assert attrs["status"] == "SUCCEEDED" and attrs["model_uri"] == f"s3://b/m/t/{attrs['run_id']}"
    assert apiserver.get("NetworkPolicy", NS, "t-train-egress") is not None
    assert any("not enforced" in line for line in logs)
    assert h.diff(c, attrs, {"name": "t", "compute_pool": "cpu", "framework": "lightgbm"}).needs_replace
    h.delete(c, created.id, attrs)
    assert (
        apiserver.get("RayJob", NS, "t") is None
        and apiserver.get("NetworkPolicy", NS, "t-train-egress") is None
    )


def test_readiness_timeout_is_an_error(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    with apiserver.store.lock:
        apiserver.store.controllers.clear()  # no controller: the cluster never becomes ready
    c = pool_ctx(tmp_path)
    c.deadline = time.monotonic() + 0.3  # what the engine sets from `timeouts { create }`
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded) as err:
        handler(provider, "compute_pool").create(c, dict(POOL))
    assert time.monotonic() - start < 10  # not the provider's ready_timeout_secs (20 here)
    assert "state=pending" in err.value.detail and "timeouts" in err.value.detail
    assert apiserver.objects() == []  # all or nothing


def test_scale_that_does_not_complete_rolls_back(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    h = handler(provider, "compute_pool")
    created = h.create(pool_ctx(tmp_path), dict(POOL))
    with apiserver.store.lock:
        apiserver.store.controllers.clear()  # the scale never completes
    c = pool_ctx(tmp_path)
    c.deadline = time.monotonic() + 0.3
    with pytest.raises(DeadlineExceeded) as err:
        h.update(c, created.id, created.attributes, {**POOL, "active_nodes": 2})
    assert "rolled back" in err.value.summary
    assert apiserver.get("RayCluster", NS, "cpu")["spec"]["workerGroupSpecs"][0]["replicas"] == 1  # type: ignore[index]


def test_unreachable_and_unauthorised(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text((tmp_path / "kubeconfig").read_text().replace(apiserver.token, "wrong"))
    with pytest.raises(PermanentError) as err:
        KubeClient(str(bad)).get(ObjRef("v1", "Namespace", "", "x"))
    assert "401" in err.value.summary and "credentials" in err.value.detail


@pytest.mark.parametrize("kind", ["compute_pool", "training", "service"])
def test_a_name_kubernetes_renames_is_a_plan_warning(provider: KubernetesProvider, kind: str) -> None:
    """Issue 14: `ml_cpu` became `ml-cpu` silently; the plan now says so."""
    h = handler(provider, kind)
    (warn,) = h.validate({"name": "ml_cpu"})
    assert warn.severity == "warning" and warn.summary == "Name changed for Kubernetes"
    assert '"ml_cpu"' in warn.detail and 'named "ml-cpu"' in warn.detail
    assert list(h.validate({"name": "ml-cpu"})) == []


def test_defaults_the_server_fills_into_list_elements_are_not_drift(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    """kube-apiserver defaults fields inside each container and port (imagePullPolicy,
    terminationMessagePath, protocol, probe timings). Found on a real kube-apiserver: every
    service showed drift on its first refresh, because lists were compared whole. A real
    change inside a container still is drift, named down to the field."""
    handler(provider, "compute_pool").create(pool_ctx(tmp_path), dict(POOL))
    h = handler(provider, "service")
    created = h.create(service_ctx(tmp_path), dict(SERVICE))
    live = apiserver.get("Deployment", NS, "api")
    assert live is not None
    server = live["spec"]["template"]["spec"]["containers"][0]
    assert server["terminationMessagePath"] == "/dev/termination-log"  # the server defaulted it
    read = h.read(service_ctx(tmp_path), created.id, created.attributes)
    assert read.attributes is not None and "drift" not in read.attributes, read.attributes

    containers = live["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = "someone/else:1"
    apiserver.edit("Deployment", NS, "api", {"spec": {"template": {"spec": {"containers": containers}}}})
    drifted = h.read(service_ctx(tmp_path), created.id, created.attributes)
    assert drifted.attributes is not None
    assert drifted.attributes["drift"] == [
        f'Deployment {NS}/api .spec.template.spec.containers[name="server"].image: '
        '"rayproject/ray-ml:2.60.0-py311" -> "someone/else:1" (field '
        '.spec.template.spec.containers[name="server"].image is now owned by kubectl-edit; '
        "apply will take it back)"
    ]

    # Containers are merged by name: one a webhook injects (a sidecar, first in the list) is
    # not drift, and the server container is still compared with the right live one.
    containers[0]["image"] = "rayproject/ray-ml:2.60.0-py311"
    containers.insert(0, {"name": "istio-proxy", "image": "istio/proxyv2:1.22"})
    apiserver.edit("Deployment", NS, "api", {"spec": {"template": {"spec": {"containers": containers}}}})
    read = h.read(service_ctx(tmp_path), created.id, created.attributes)
    assert read.attributes is not None and "drift" not in read.attributes, read.attributes


def test_a_crash_looping_service_reads_failed_with_its_cause(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    """A Deployment whose pod's server container is in CrashLoopBackOff is FAILED with the pod,
    the container and its last exit (not PENDING for ever, not deleted); the plan says why."""
    handler(provider, "compute_pool").create(pool_ctx(tmp_path), dict(POOL))
    h = handler(provider, "service")
    created = h.create(service_ctx(tmp_path), dict(SERVICE))
    live = apiserver.get("Deployment", NS, "api")
    assert live is not None
    labels = live["spec"]["selector"]["matchLabels"]
    apiserver.add_pod(NS, "api-7d9f-x2", labels, ["server"])
    with apiserver.store.lock:
        apiserver.store.controllers.clear()  # from here on the pod never becomes ready
    apiserver.set_status("Deployment", NS, "api", {"availableReplicas": 0, "readyReplicas": 0})
    assert h.read(service_ctx(tmp_path), created.id, created.attributes).attributes["status"] == "PENDING"

    apiserver.set_status(
        "Pod",
        NS,
        "api-7d9f-x2",
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "server",
                    "ready": False,
                    "restartCount": 6,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "message": "Error: No model at /models\n",
                        }
                    },
                }
            ],
        },
    )
    read = h.read(service_ctx(tmp_path), created.id, created.attributes).attributes
    assert read is not None and read["status"] == "FAILED"
    assert read["status_message"] == (
        "pod api-7d9f-x2 container server: CrashLoopBackOff, last exit 1: Error: No model at /models"
    )
    many = h.read_many(
        service_ctx(tmp_path), [ReadRequest(service_ctx(tmp_path), created.id, created.attributes)]
    )
    first = many.results[0]
    assert not isinstance(first, Exception) and first.attributes == read
    diff = h.diff(service_ctx(tmp_path), read, dict(SERVICE))
    assert "status" in diff.changed and "No model at /models" in diff.reasons["status"]


def test_a_missing_crd_names_the_kind_and_what_to_do(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    """Issue 11, bug 5: without KubeRay's CRDs the real server answers the plain-text 404, and
    the error's detail was "."; a refresh even took the RayCluster for deleted."""
    h = handler(provider, "compute_pool")
    created = h.create(pool_ctx(tmp_path), dict(POOL))
    apiserver.uninstall("ray.io")
    try:
        with pytest.raises(PermanentError) as err:
            h.read(pool_ctx(tmp_path), created.id, created.attributes)  # not "gone"
        assert err.value.summary == "The cluster does not serve RayCluster (ray.io/v1)"
        assert "404 page not found" in err.value.detail and "KubeRay v1.7.0 CRDs" in err.value.detail
        (result,) = h.read_many(
            pool_ctx(tmp_path), [ReadRequest(pool_ctx(tmp_path), created.id, created.attributes)]
        ).results
        assert isinstance(result, PermanentError) and "RayCluster (ray.io/v1)" in result.summary
        with pytest.raises(PermanentError) as err:
            h.create(pool_ctx(tmp_path), {**POOL, "name": "other"})
        assert "RayCluster (ray.io/v1)" in err.value.summary
    finally:
        apiserver.missing_groups.clear()

    apiserver.uninstall("cilium.io")
    try:
        cilium = KubernetesProvider()
        cilium.configure({**provider.config, "fqdn_policies": "cilium"}, ctx(tmp_path))
        eai = {"name": "eai", "enabled": True, "effective_egress": ["pypi.org:443"]}
        related = pool_related(
            **{
                "external_access_integration.eai": Related(
                    "external_access_integration.eai", "external_access_integration", "eai", eai
                )
            }
        )
        c = ProviderContext(tmp_path, tmp_path / ".mlrt", "training.t", related=related)
        training = {
            "name": "t",
            "compute_pool": "cpu",
            "framework": "xgboost",
            "external_access_integrations": ["eai"],
        }
        with pytest.raises(PermanentError) as err:
            handler(cilium, "training").create(c, training)
        assert err.value.summary == "The cluster does not serve CiliumNetworkPolicy (cilium.io/v2)"
        assert 'fqdn_policies = "none"' in err.value.detail
        assert apiserver.get("RayJob", NS, "t") is None  # the failed create removed what it applied
        cilium.close()
    finally:
        apiserver.missing_groups.clear()


def test_quota_fits_the_pool_and_its_services_pods(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    """Issue 11, bug 6: the quota was sized for the RayCluster alone; with the pods modelled
    (and charged by the quota admission), a service of 4 replicas had only 2 pods created and
    never became ready. Now each workload records its share and the quota grows with it."""
    apiserver.model_pods = True
    try:
        pools = handler(provider, "compute_pool")
        pool = pools.create(pool_ctx(tmp_path), dict(POOL))
        assert {p["metadata"]["name"] for p in apiserver.objects("Pod")} == {"cpu-head-0", "cpu-workers-0"}
        h = handler(provider, "service")
        c = service_ctx(tmp_path)
        c.deadline = time.monotonic() + 5
        created = h.create(c, {**SERVICE, "max_instances": 4})
        assert created.attributes["status"] == "READY"
        pods = {p["metadata"]["name"] for p in apiserver.objects("Pod")}
        assert {f"api-{i}" for i in range(4)} <= pods
        quota = apiserver.get("ResourceQuota", NS, "cpu-quota")
        assert quota is not None
        shares = {k: v for k, v in quota["metadata"]["annotations"].items() if k.startswith("reserve.")}
        assert shares == {
            # head (1 vCPU, 4Gi) + max_nodes 2 x CPU_X64_XS (1 vCPU, 6Gi)
            "reserve.mlrt.dev/compute_pool.cpu": "requests.cpu=3,requests.memory=16Gi,limits.memory=16Gi",
            # (4 replicas + 1 during a rolling update) x 1 vCPU, 6Gi
            "reserve.mlrt.dev/service.api": "requests.cpu=5,requests.memory=30Gi,limits.memory=30Gi",
        }
        assert quota["spec"]["hard"] == {
            "requests.cpu": "8",
            "requests.memory": "46Gi",
            "limits.memory": "46Gi",
        }
        # The pool's refresh sees the services' shares as its own quota's, not as drift; its
        # update keeps them.
        read = pools.read(pool_ctx(tmp_path), pool.id, pool.attributes)
        assert read.attributes is not None and "drift" not in read.attributes, read.attributes
        pools.update(pool_ctx(tmp_path), pool.id, pool.attributes, dict(POOL))
        assert apiserver.get("ResourceQuota", NS, "cpu-quota")["spec"]["hard"]["requests.cpu"] == "8"  # type: ignore[index]

        # The plan says what the quota reserves, and for whom.
        planned = [
            PlannedResource("compute_pool.cpu", "compute_pool", "no-op", dict(POOL)),
            PlannedResource("service.api", "service", "update", {**SERVICE, "max_instances": 4}),
        ]
        (note,) = provider.check_plan(ctx(tmp_path), planned)
        assert note.address == "compute_pool.cpu"
        assert (
            note.summary
            == f"ResourceQuota {NS}/cpu-quota reserves requests.cpu=8,requests.memory=46Gi,limits.memory=46Gi"
        )
        assert "service.api requests.cpu=5" in note.detail

        h.delete(service_ctx(tmp_path), created.id, created.attributes)
        quota = apiserver.get("ResourceQuota", NS, "cpu-quota")
        assert quota is not None and quota["spec"]["hard"]["requests.cpu"] == "3"
        assert "reserve.mlrt.dev/service.api" not in quota["metadata"]["annotations"]
    finally:
        apiserver.model_pods = False


def test_a_pool_create_waits_its_own_deadline_not_the_scale_timeout(
    provider: KubernetesProvider, apiserver: TestApiServer, tmp_path: Path
) -> None:
    """Issue 11, bug 4: a pool's create gave up after `scale_timeout_secs`, which bounds a
    scale (an update, rolled back when it runs out), not the create (`timeouts { create }`)."""
    apiserver.auto_ready(after_gets=5)  # ready on the fifth poll, well after the scale timeout
    c = pool_ctx(tmp_path)
    c.deadline = time.monotonic() + 10
    created = handler(provider, "compute_pool").create(c, {**POOL, "scale_timeout_secs": 0.01})
    assert created.attributes["state"] == "ACTIVE"
