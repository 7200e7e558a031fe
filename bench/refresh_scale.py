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
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])

from tests.k8s.apiserver import TestApiServer
from tests.k8s.fleet import POOLS, SERVICE_KINDS, make_fleet, seed, write_project

PAGE = 500
POOL_LISTS = 1 + 2 * len(POOLS)  # Namespace cluster-wide; ResourceQuota and RayCluster per namespace


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


def measure(server: TestApiServer, project: Path, per_object: bool) -> tuple[float, dict[str, int]]:
    before = server.request_counts()
    seconds = plan(project, per_object)
    after = server.request_counts()
    return seconds, {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000, 10000]
    print(
        f"{'objects':>8} {'resources':>9} | {'read: plan s':>12} {'requests':>8} | "
        f"{'read_many: plan s':>17} {'requests':>8} {'bound':>5} | setup s"
    )
    for n in sizes:
        services = n // len(SERVICE_KINDS)
        t0 = time.perf_counter()
        server = TestApiServer().start()
        tmp = Path(tempfile.mkdtemp(prefix=f"mlrt-bench-refresh-{n}-"))
        kubeconfig = server.kubeconfig(tmp / "kubeconfig")
        fleet = make_fleet(services, kubeconfig, tmp, page=PAGE)
        seed(server, fleet)
        write_project(fleet, tmp / "proj", kubeconfig, PAGE)
        setup = time.perf_counter() - t0
        per_ns = math.ceil(services / len(POOLS))
        bound = len(SERVICE_KINDS) * len(POOLS) * max(1, math.ceil(per_ns / PAGE)) + POOL_LISTS
        many_s, many_req = measure(server, tmp / "proj", per_object=False)
        one_s, one_req = measure(server, tmp / "proj", per_object=True)
        many_s2, many_req2 = measure(server, tmp / "proj", per_object=False)  # warm, as read ran second
        assert many_req == many_req2, (many_req, many_req2)
        print(
            f"{fleet.objects:>8} {len(fleet.entries):>9} | {one_s:>12.2f} {sum(one_req.values()):>8} | "
            f"{min(many_s, many_s2):>17.2f} {sum(many_req.values()):>8} {bound:>5} | {setup:.1f}"
            f"   read {dict(sorted(one_req.items()))}, read_many {dict(sorted(many_req.items()))}",
            flush=True,
        )
        fleet.provider.close()
        server.stop()
    print(
        "targets: read_many requests <= bound (kinds x namespaces x pages, page size "
        f"{PAGE}); plan with full refresh of 10,000 objects <= 5 s"
    )


if __name__ == "__main__":
    main()
