"""Refresh at scale on Kubernetes: per-object `read` against `read_many`, side by side.

Against the repository's test API server (tests/k8s/apiserver.py: real REST, label selectors,
limit/continue pages, request counting as kube-apiserver's `apiserver_request_total`), for
N = 100, 1,000 and 10,000 service objects (Deployment, Service, Ingress, PodDisruptionBudget:
N/4 services with ingress, split over 2 pools and so 2 namespaces; the pools add a Namespace,
ResourceQuota and RayCluster each). The state and the objects are built directly, as a previous
apply would have left them (tests/k8s/fleet.py). Each row is one whole `mlrt plan
-detailed-exitcode` (refresh included, which must find no changes) with `MLRT_READ_MANY=0`
(one read per resource: a GET per object, the old path) and with the default `read_many`, and
the HTTP requests the server counted during it.

Targets: read_many requests <= kinds x namespaces x pages (independent of N up to the page size
of 500), and a plan with full refresh of 10,000 objects <= 5 s. The server runs in this process
(threads), the plan in a subprocess: two processes for the machine's two cores.

`--kubeconfig FILE` runs the same rows against a real API server instead (kube-apiserver + etcd;
KubeRay's CRDs are installed from tests/fixtures). The objects are stored by server-side apply
over HTTP (Deployment status through the `/status` subresource), and requests are counted from
the server's own `/metrics` (`apiserver_request_total`, without the server's own lease renewals).
Use an empty server: sizes run in ascending order, and each size's objects include the previous
size's (same names), so nothing is left over. A server without kube-controller-manager never
finishes deleting a namespace, so the bench deletes nothing; throw the server away afterwards.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _support import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])

import yaml

from clients.kubernetes import KubeClient, ObjRef
from tests.k8s.apiserver import TestApiServer
from tests.k8s.fleet import SERVICE_KINDS, Fleet, _ready, make_fleet, seed, write_project

PAGE = 500


def plan(project: Path, per_object: bool) -> float:
    env = dict(os.environ, NO_COLOR="1", MLRT_READ_MANY="0" if per_object else "1")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.cli.main", "-chdir", str(project), "plan", "-detailed-exitcode"],
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"plan exited {proc.returncode} (expected 0: no changes):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed


def measure(
    server: TestApiServer | RealServer, project: Path, per_object: bool
) -> tuple[float, dict[str, int]]:
    before = server.request_counts()
    seconds = plan(project, per_object)
    after = server.request_counts()
    return seconds, {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def list_bound(fleet: Fleet) -> int:
    """LISTs read_many needs at most: per handler type, one per (kind, namespace) and page."""
    counts: dict[tuple[str, str, str], int] = {}
    for e in fleet.entries:
        for obj in e.manifests:
            ref = ObjRef.of(obj)
            key = (e.type, ref.kind, ref.namespace)
            counts[key] = counts.get(key, 0) + 1
    return sum(max(1, math.ceil(n / PAGE)) for n in counts.values())


class RealServer:
    """A real kube-apiserver reached through a kubeconfig, with the same counting interface."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.client = KubeClient(str(kubeconfig))

    def _raw(self, method: str, path: str) -> str:
        m, url, hdrs, data, post = self.client.api.param_serialize(
            method, path, header_params={"Accept": "text/plain"}, auth_settings=["BearerToken"]
        )
        return str(self.client.api.call_api(m, url, hdrs, data, post).read().decode())

    def request_counts(self) -> dict[str, int]:
        """apiserver_request_total summed by verb, for resource requests other than leases."""
        out: dict[str, int] = {}
        for line in self._raw("GET", "/metrics").splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
            if not labels.get("resource") or labels["resource"] == "leases":
                continue
            verb = labels.get("verb", "")
            out[verb] = out.get(verb, 0) + int(float(line.rsplit(" ", 1)[1]))
        return out

    def install_crds(self) -> None:
        for name in ("ray.io_rayclusters.yaml", "ray.io_rayjobs.yaml"):
            crd = yaml.safe_load((REPO / "tests" / "fixtures" / "kuberay-v1.7.0" / name).read_text())
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
            self.client.request(
                "PATCH",
                path,
                "installing a CRD",
                {"fieldManager": "bench", "force": "true"},
                crd,
                "application/apply-patch+yaml",
            )
            deadline = time.monotonic() + 60
            while True:
                conditions = (self.client.request("GET", path, "reading a CRD").get("status") or {}).get(
                    "conditions"
                ) or []
                if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"CRD {crd['metadata']['name']} never became Established")
                time.sleep(0.2)  # polling the server for the CRD, not timing a result

    def seed(self, fleet: Fleet) -> None:
        """Server-side apply of every object, as mlrt would have; Deployments marked ready."""
        from concurrent.futures import ThreadPoolExecutor

        objs = [obj for e in fleet.entries for obj in e.manifests]
        first = [o for o in objs if o["kind"] == "Namespace"]
        for o in first:
            self.client.apply(o)

        def store(obj: dict[str, Any]) -> None:
            self.client.apply(obj)
            if obj["kind"] == "Deployment":
                ref = ObjRef.of(obj)
                self.client.request(
                    "PATCH",
                    ref.path() + "/status",
                    f"marking {ref} ready",
                    None,
                    # a real server also wants readyReplicas >= availableReplicas
                    {"status": {**_ready(obj), "readyReplicas": obj["spec"].get("replicas", 1)}},
                    "application/merge-patch+json",
                )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(store, [o for o in objs if o["kind"] != "Namespace"]))

    def stop(self) -> None:
        self.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10000])
    parser.add_argument("--kubeconfig", type=Path, help="a real API server instead of the test one")
    args = parser.parse_args()
    where = f"real API server ({args.kubeconfig})" if args.kubeconfig else "test API server"
    print(f"refresh_scale against the {where}; load {os.getloadavg()[0]:.1f}")
    print(
        f"{'objects':>8} {'resources':>9} | {'read: plan s':>12} {'requests':>8} | "
        f"{'read_many: plan s':>17} {'requests':>8} {'bound':>5} | setup s"
    )
    real = RealServer(args.kubeconfig) if args.kubeconfig else None
    if real is not None:
        real.install_crds()
    for n in sorted(args.sizes):
        services = n // len(SERVICE_KINDS)
        t0 = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f"mlrt-bench-refresh-{n}-"))
        server: TestApiServer | RealServer
        if real is not None:
            server, kubeconfig = real, args.kubeconfig.resolve()
        else:
            test_server = TestApiServer().start()
            server, kubeconfig = test_server, test_server.kubeconfig(tmp / "kubeconfig")
        fleet = make_fleet(services, kubeconfig, tmp, page=PAGE)
        if isinstance(server, RealServer):
            server.seed(fleet)
        else:
            seed(server, fleet)
        write_project(fleet, tmp / "proj", kubeconfig, PAGE)
        setup = time.perf_counter() - t0
        bound = list_bound(fleet)
        many_s, many_req = measure(server, tmp / "proj", per_object=False)
        one_s, one_req = measure(server, tmp / "proj", per_object=True)
        many_s2, many_req2 = measure(server, tmp / "proj", per_object=False)  # warm, as read ran second
        if many_req != many_req2:
            print(f"  note: the two read_many runs counted {many_req} and {many_req2}")
        print(
            f"{fleet.objects:>8} {len(fleet.entries):>9} | {one_s:>12.2f} {sum(one_req.values()):>8} | "
            f"{min(many_s, many_s2):>17.2f} {sum(many_req.values()):>8} {bound:>5} | {setup:.1f}"
            f"   read {dict(sorted(one_req.items()))}, read_many {dict(sorted(many_req.items()))}",
            flush=True,
        )
        fleet.provider.close()
        if isinstance(server, TestApiServer):
            server.stop()
    if real is not None:
        real.stop()
    print(
        "targets: read_many requests <= bound (kinds x namespaces x pages, page size "
        f"{PAGE}); plan with full refresh of 10,000 objects <= 5 s"
    )


if __name__ == "__main__":
    main()
