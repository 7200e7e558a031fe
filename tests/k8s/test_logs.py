"""`mlrt logs` on Kubernetes: pod logs through the API (the test server answers as
kube-apiserver does with the kubelet behind it: one container, tailLines, sinceSeconds, follow)."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest

from clients.kubernetes import ApiError
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import LogLine, LogQuery, LogReader
from providers.kubernetes import KubernetesProvider

from .apiserver import TestApiServer
from .conftest import ctx

NS = "mlrt-logs"


def _deployment(provider: KubernetesProvider, name: str) -> None:
    labels = {"mlrt.dev/service": name}
    provider.client().apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "server", "image": "mlrt/serve"}]},
                },
            },
        }
    )


@pytest.fixture()
def service(apiserver: TestApiServer, provider: KubernetesProvider) -> str:
    name = f"api-{time.monotonic_ns()}"
    provider.client().apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    _deployment(provider, name)
    labels = {"mlrt.dev/service": name}
    for i in (1, 0):  # created out of order: instances are numbered by pod name
        pod = f"{name}-pod-{i}"
        apiserver.add_pod(NS, pod, labels, ["model-fetch", "server"])
        apiserver.write_log(NS, pod, "model-fetch", "fetching the model")
        apiserver.write_log(NS, pod, "server", f"pod {i} old line", at=time.time() - 3600)
        apiserver.write_log(NS, pod, "server", f"pod {i} ready", f"pod {i} answered")
    apiserver.add_pod(NS, f"{name}-other", {"mlrt.dev/service": "other"}, ["server"])
    return name


def test_a_service_shows_each_pods_server_container(
    provider: KubernetesProvider, service: str, tmp_path: Path
) -> None:
    handler = provider.handler("service")
    assert isinstance(handler, LogReader)
    c = ctx(tmp_path, "service.api")
    got = list(handler.logs(c, f"Deployment/{NS}/{service}", {}, LogQuery()))
    assert got == [
        LogLine(f"pod {service}-pod-0", "pod 0 old line"),
        LogLine(f"pod {service}-pod-0", "pod 0 ready"),
        LogLine(f"pod {service}-pod-0", "pod 0 answered"),
        LogLine(f"pod {service}-pod-1", "pod 1 old line"),
        LogLine(f"pod {service}-pod-1", "pod 1 ready"),
        LogLine(f"pod {service}-pod-1", "pod 1 answered"),
    ]
    one = list(
        handler.logs(
            c, f"Deployment/{NS}/{service}", {}, LogQuery(instance=1, tail=1, since=time.time() - 60)
        )
    )
    assert one == [LogLine(f"pod {service}-pod-1", "pod 1 answered")]
    recent = list(
        handler.logs(c, f"Deployment/{NS}/{service}", {}, LogQuery(instance=0, since=time.time() - 60))
    )
    assert [line.text for line in recent] == ["pod 0 ready", "pod 0 answered"]
    with pytest.raises(PermanentError, match="no instance 5"):
        list(handler.logs(c, f"Deployment/{NS}/{service}", {}, LogQuery(instance=5)))


def test_the_test_server_refuses_an_unnamed_container_as_kube_apiserver_does(
    provider: KubernetesProvider, service: str
) -> None:
    path = f"/api/v1/namespaces/{NS}/pods/{service}-pod-0/log"
    with pytest.raises(ApiError) as refused:
        provider.client().request("GET", path, "reading a log")
    assert refused.value.status == 400 and "a container name must be specified" in refused.value.detail


def test_a_deleted_service_says_so(provider: KubernetesProvider, tmp_path: Path) -> None:
    handler = provider.handler("service")
    assert isinstance(handler, LogReader)
    with pytest.raises(PermanentError, match="has no Deployment"):
        list(handler.logs(ctx(tmp_path, "service.gone"), f"Deployment/{NS}/gone", {}, LogQuery()))


def test_a_training_follows_its_submitter_pod_until_it_ends(
    apiserver: TestApiServer, provider: KubernetesProvider, tmp_path: Path
) -> None:
    provider.client().apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    job = f"train-{time.monotonic_ns()}"
    pod = f"{job}-x7k2p"
    apiserver.add_pod(NS, pod, {"job-name": job}, ["ray-job-submitter"])
    apiserver.write_log(NS, pod, "ray-job-submitter", "Job submitted", "step 1/3")
    handler = provider.handler("training")
    assert isinstance(handler, LogReader)
    c = ctx(tmp_path, "training.t")
    seen: queue.Queue[LogLine | None] = queue.Queue()

    def follow() -> None:
        for line in handler.logs(c, f"RayJob/{NS}/{job}", {}, LogQuery(follow=True)):
            seen.put(line)
        seen.put(None)

    reader = threading.Thread(target=follow)
    reader.start()
    try:
        assert seen.get(timeout=10) == LogLine(f"pod {pod}", "Job submitted")
        assert seen.get(timeout=10) == LogLine(f"pod {pod}", "step 1/3")
        apiserver.write_log(NS, pod, "ray-job-submitter", "step 2/3")
        assert seen.get(timeout=10) == LogLine(f"pod {pod}", "step 2/3")
        apiserver.write_log(NS, pod, "ray-job-submitter", "Job succeeded")
        apiserver.end_log(NS, pod, "ray-job-submitter")
        assert seen.get(timeout=10) == LogLine(f"pod {pod}", "Job succeeded")
        assert seen.get(timeout=10) is None  # the stream ended with the container
    finally:
        c.cancel.set()
        reader.join(10)
    with pytest.raises(PermanentError, match="has no pods"):
        list(handler.logs(c, f"RayJob/{NS}/never-ran", {}, LogQuery()))
