"""The test API server answers as kube-apiserver does where mlrt depends on it (issue 11):
defaults inside list items, managed fields in the real fieldsV1 format, apply conflicts, the
scale subresource, the plain-text 404 of a missing CRD, ResourceQuota on pods, dry-run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.kubernetes import ApiError, FieldManagerConflict, KubeClient, ObjRef

from .apiserver import TestApiServer

NS = "truth"


@pytest.fixture()
def client(apiserver: TestApiServer, kubeconfig: Path) -> Iterator[KubeClient]:
    with apiserver.store.lock:
        apiserver.store.objects.clear()
        apiserver.store.owners.clear()
        apiserver.store.controllers.clear()
        apiserver.faults.clear()
        apiserver.missing_groups.clear()
        apiserver.model_pods = False
    c = KubeClient(str(kubeconfig))
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    try:
        yield c
    finally:
        c.close()


def deployment(replicas: int = 1, cpu: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "mlrt/serve:1.0",
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                            "resources": {
                                "requests": {"cpu": cpu, "memory": "1Gi"},
                                "limits": {"cpu": cpu, "memory": "1Gi"},
                            },
                        }
                    ]
                },
            },
        },
    }


def test_defaults_inside_list_items_and_crd_schema_defaults(client: KubeClient) -> None:
    live = client.apply(deployment())
    spec = live["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    pod = spec["template"]["spec"]
    assert (pod["restartPolicy"], pod["dnsPolicy"], pod["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
    )
    assert pod["securityContext"] == {} and pod["terminationGracePeriodSeconds"] == 30
    (server,) = pod["containers"]
    assert server["imagePullPolicy"] == "IfNotPresent"
    assert server["terminationMessagePath"] == "/dev/termination-log"
    assert server["terminationMessagePolicy"] == "File"
    assert server["ports"][0]["protocol"] == "TCP"
    probe = server["readinessProbe"]
    assert (probe["timeoutSeconds"], probe["periodSeconds"], probe["successThreshold"]) == (1, 10, 1)
    assert probe["failureThreshold"] == 3 and probe["httpGet"]["scheme"] == "HTTP"

    svc = client.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": NS},
            "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 8080}]},
        }
    )
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["sessionAffinity"] == "None"
    assert svc["spec"]["ports"][0] == {"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}

    ray = client.apply(
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {"name": "rc", "namespace": NS},
            "spec": {
                "headGroupSpec": {
                    "rayStartParams": {},
                    "template": {
                        "spec": {
                            "containers": [{"name": "h", "image": "ray", "ports": [{"containerPort": 6379}]}]
                        }
                    },
                },
                "workerGroupSpecs": [
                    {"groupName": "w", "replicas": 1, "template": {"spec": {"containers": [{"name": "w"}]}}}
                ],
            },
        }
    )
    head = ray["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["ports"] == [{"containerPort": 6379, "protocol": "TCP"}]
    assert "imagePullPolicy" not in head  # a CRD gets its schema's defaults, not the pod's
    group = ray["spec"]["workerGroupSpecs"][0]
    assert (group["numOfHosts"], group["priority"], group["minReplicas"]) == (1, 0, 0)


def test_managed_fields_in_the_real_format_and_kubectl_managers(
    client: KubeClient, apiserver: TestApiServer
) -> None:
    client.apply(deployment())
    live = client.get(ObjRef("apps/v1", "Deployment", NS, "api"))
    assert live is not None
    (entry,) = live["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("mlrt", "Apply", "FieldsV1")
    fields = entry["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    server = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"server"}']
    assert server["."] == {} and server["f:image"] == {}
    assert "." in server["f:ports"]['k:{"containerPort":8080,"protocol":"TCP"}']

    # kubectl scale writes the scale subresource: Update by kubectl-scale, replicas moves to it.
    client.request(
        "PATCH",
        ObjRef("apps/v1", "Deployment", NS, "api").path() + "/scale",
        "scaling",
        None,
        {"spec": {"replicas": 5}},
        "application/merge-patch+json",
    )
    live = client.get(ObjRef("apps/v1", "Deployment", NS, "api"))
    assert live is not None and live["spec"]["replicas"] == 5
    managers = {m["manager"]: m for m in live["metadata"]["managedFields"]}
    scale = managers["kubectl-scale"]
    assert (scale["operation"], scale["subresource"]) == ("Update", "scale")
    assert scale["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in managers["mlrt"]["fieldsV1"]["f:spec"]

    apiserver.edit("Deployment", NS, "api", {"metadata": {"labels": {"team": "a"}}}, manager="kubectl-label")
    live = client.get(ObjRef("apps/v1", "Deployment", NS, "api"))
    assert live is not None
    label = next(m for m in live["metadata"]["managedFields"] if m["manager"] == "kubectl-label")
    assert label["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}


def test_apply_conflict_is_the_real_409_and_force_moves_ownership(
    client: KubeClient, apiserver: TestApiServer
) -> None:
    client.apply(deployment())
    apiserver.scale("Deployment", NS, "api", 5)
    with pytest.raises(FieldManagerConflict) as err:
        client.apply(deployment())
    assert err.value.status == 409 and '"kubectl-scale"' in err.value.summary
    assert 'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas' in (
        err.value.detail
    )
    # An apply that does not change the field is no conflict (shared ownership).
    client.apply(deployment(replicas=5))

    live = client.apply(deployment(replicas=1), force=True)
    assert live["spec"]["replicas"] == 1
    owners = {m["manager"]: m["fieldsV1"] for m in live["metadata"]["managedFields"]}
    assert "f:replicas" in owners["mlrt"]["f:spec"]
    assert "kubectl-scale" not in owners  # it owned nothing else


def test_a_missing_crd_is_the_plain_text_404(client: KubeClient, apiserver: TestApiServer) -> None:
    apiserver.missing_groups.add("cilium.io")
    raw = client.api.call_api(
        "GET",
        apiserver.url + "/apis/cilium.io/v2/namespaces/truth/ciliumnetworkpolicies/x",
        {"Authorization": f"Bearer {apiserver.token}"},
    )
    assert raw.status == 404 and raw.read() == b"404 page not found\n"
    assert raw.headers["Content-Type"].startswith("text/plain")
    groups = client.request("GET", "/apis", "discovery")
    assert "cilium.io" not in {g["name"] for g in groups["groups"]}


def test_resource_quota_refuses_pods_past_it(client: KubeClient, apiserver: TestApiServer) -> None:
    client.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": NS},
            "spec": {"hard": {"requests.cpu": "5", "requests.memory": "8Gi"}},
        }
    )
    apiserver.model_pods = True
    apiserver.auto_ready(after_gets=1)
    client.apply(deployment(replicas=3, cpu="2"))
    live = client.get(ObjRef("apps/v1", "Deployment", NS, "api"))
    assert live is not None
    assert live["status"]["availableReplicas"] == 2
    (cond,) = live["status"]["conditions"]
    assert cond["type"] == "ReplicaFailure"
    assert cond["message"] == (
        'pods "api-2" is forbidden: exceeded quota: q, requested: requests.cpu=2, used: '
        "requests.cpu=4, limited: requests.cpu=5"
    )
    with pytest.raises(ApiError) as err:
        client.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "bare", "namespace": NS},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            }
        )
    assert err.value.status == 403 and "must specify requests.cpu,requests.memory" in err.value.detail
    client.delete(ObjRef("apps/v1", "Deployment", NS, "api"), "Background")
    assert apiserver.objects("Pod") == []  # garbage-collected with their owner


def test_server_side_dry_run_defaults_without_storing(client: KubeClient, apiserver: TestApiServer) -> None:
    ref = ObjRef("apps/v1", "Deployment", NS, "api")
    before = apiserver.store.rv
    out = client.request(
        "PATCH",
        ref.path(),
        "dry-run",
        {"fieldManager": "mlrt", "dryRun": "All"},
        deployment(),
        "application/apply-patch+yaml",
    )
    assert out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert out["metadata"]["managedFields"][0]["manager"] == "mlrt"
    assert client.get(ref) is None and apiserver.store.rv == before
