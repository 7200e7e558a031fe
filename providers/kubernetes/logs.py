"""`mlrt logs` on Kubernetes: the pods' container logs, through the API server.

A training is a RayJob: its log is that of KubeRay's submitter pod (the Job named after the
RayJob, label `job-name`), which follows the Ray job's own log (driver and Ray Train workers).
A service is a Deployment: its pods (by the Deployment's own selector), container `server`,
one per instance in pod-name order (`-instance N` picks the N-th). `-since` and `-tail` are the
API's `sinceSeconds` and `tailLines`; `-f` streams every pod's log (`follow=true`) until all the
containers have ended or Ctrl-C. Pods that start later (a rolling update) are not picked up:
run it again.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from clients.kubernetes import KubeClient, ObjRef
from mlrt_iac.errors import MlrtError, PermanentError
from mlrt_iac.provider import LogLine, LogQuery, ProviderContext

_END = LogLine("", "")  # one per finished stream, on the follow queue


def split_id(id: str) -> tuple[str, str, str]:
    """(kind, namespace, name) of a handler's object id `Kind/namespace/name`."""
    kind, _, rest = id.partition("/")
    namespace, _, name = rest.partition("/")
    return kind, namespace, name


def training_logs(ctx: ProviderContext, client: KubeClient, id: str, query: LogQuery) -> Iterator[LogLine]:
    _, namespace, name = split_id(id)
    return _pod_logs(ctx, client, namespace, f"job-name={name}", "ray-job-submitter", query, what="training")


def service_logs(ctx: ProviderContext, client: KubeClient, id: str, query: LogQuery) -> Iterator[LogLine]:
    _, namespace, name = split_id(id)
    deployment = client.get(ObjRef("apps/v1", "Deployment", namespace, name))
    if deployment is None:
        raise PermanentError(
            f"{ctx.address} has no Deployment {namespace}/{name}",
            "It was deleted outside mlrt; `mlrt plan` shows it as missing.",
        )
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return _pod_logs(ctx, client, namespace, selector, "server", query, what="service")


def _pod_logs(
    ctx: ProviderContext,
    client: KubeClient,
    namespace: str,
    selector: str,
    container: str,
    query: LogQuery,
    what: str,
) -> Iterator[LogLine]:
    pods = sorted(client.list("v1", "Pod", namespace, selector, limit=0).items, key=_name)
    if not pods:
        raise PermanentError(
            f"{ctx.address} has no pods in {namespace}",
            f"No pod matches {selector}: the {what} has not started one yet, or its pods were removed "
            "(a finished job's pods go with the Job's TTL).",
        )
    if query.instance is not None:
        if not 0 <= query.instance < len(pods):
            raise PermanentError(
                f"{ctx.address} has no instance {query.instance}",
                f"It has {len(pods)} pod(s) (0 to {len(pods) - 1}).",
            )
        pods = [pods[query.instance]]
    since = None if query.since is None else math.ceil(time.time() - query.since)
    targets = [(_name(p), _container(p, container)) for p in pods]
    if not query.follow:
        for pod, name in targets:
            for text in client.pod_log(namespace, pod, name, tail_lines=query.tail, since_seconds=since):
                yield LogLine(f"pod {pod}", text)
        return
    lines: queue.Queue[LogLine] = queue.Queue()

    def pump(pod: str, name: str) -> None:
        try:
            for text in client.pod_log(
                namespace, pod, name, tail_lines=query.tail, since_seconds=since, follow=True
            ):
                lines.put(LogLine(f"pod {pod}", text))
                if ctx.cancel.is_set():
                    return
        except MlrtError as exc:
            lines.put(LogLine(f"pod {pod}", f"(log stream ended: {exc})"))
        finally:
            lines.put(_END)

    for pod, name in targets:
        threading.Thread(target=pump, args=(pod, name), daemon=True).start()
    running = len(targets)
    while running and not ctx.cancel.is_set():
        try:
            got = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if got is _END:
            running -= 1
        else:
            yield got


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _container(pod: dict[str, Any], preferred: str) -> str:
    names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    return preferred if preferred in names or not names else names[0]
