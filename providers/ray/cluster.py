"""A Ray cluster on this machine that mlrt manages: `ray start` processes it can find and stop.

`ray start` daemonises, so processes are found by what they carry on their command line: every
process of the cluster names its private temp dir (`/tmp/mlrt-ray-<id>`, short because Ray's
unix sockets live under it) or its GCS address, and each node's processes name its node id.
Their descendants (agents, workers, job drivers) belong to it too. `stop` ends exactly those,
never another cluster's processes (unlike `ray stop`, which ends every Ray process of the user).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlrt_iac.errors import PermanentError

START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeSize:
    cpus: float
    gpus: int
    memory_gib: float


@dataclass
class ClusterRecord:
    """What mlrt needs to find a managed cluster again (saved next to the pool's record)."""

    name: str
    temp_dir: str
    gcs_port: int
    dashboard_port: int
    client_port: int
    serve_port: int
    size: dict[str, Any]
    workers: dict[str, str] = field(default_factory=dict)  # node name -> node id
    suspended: bool = False  # every process stopped; ports, address and name kept for resume
    last_active: float | None = None  # epoch seconds of the last use (auto-suspend clock)
    resumed_at: float | None = None  # the last resume (jobs and Serve apps before it are gone)

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterRecord:
        return cls(**data)


def new_record(name: str, project_dir: Path, size: NodeSize) -> ClusterRecord:
    tag = hashlib.sha256(f"{project_dir}:{name}:{time.time_ns()}".encode()).hexdigest()[:10]
    return ClusterRecord(
        name=name,
        temp_dir=f"/tmp/mlrt-ray-{tag}",
        gcs_port=free_port(),
        dashboard_port=free_port(),
        client_port=free_port(),
        serve_port=free_port(),
        size={"cpus": size.cpus, "gpus": size.gpus, "memory_gib": size.memory_gib},
    )


# -- processes ---------------------------------------------------------------------------------
def _procs() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every process we can read."""
    out: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            rest = stat.rsplit(")", 1)[1].split()
            if rest[0] == "Z":
                continue
            out[pid] = (int(rest[1]), cmd)
        except (OSError, IndexError, ValueError):
            continue
    return out


def _with_descendants(roots: set[int], table: dict[int, tuple[int, str]]) -> set[int]:
    found = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in table.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    found.discard(os.getpid())
    return found


def cluster_pids(rec: ClusterRecord) -> set[int]:
    """Every live process of the cluster (all its nodes)."""
    table = _procs()
    marks = (rec.temp_dir + "/", rec.temp_dir + " ")
    roots = {
        pid
        for pid, (_, cmd) in table.items()
        if any(m in cmd + " " for m in marks) or _names_gcs(cmd, rec.gcs_port)
    }
    return _with_descendants(roots, table)


def _names_gcs(cmd: str, port: int) -> bool:
    """Whether a command line points at the GCS on `port` (Ray writes the host's own IP there)."""
    return any(
        tok.startswith(("--gcs-address=", "--address=")) and tok.endswith(f":{port}") for tok in cmd.split()
    )


def node_pids(node_id: str) -> set[int]:
    """The processes of one node: those naming its id, and their descendants."""
    table = _procs()
    roots = {pid for pid, (_, cmd) in table.items() if node_id in cmd}
    return _with_descendants(roots, table)


def _raylets(rec: ClusterRecord) -> dict[str, int]:
    """node id -> raylet pid for the cluster's raylets."""
    out: dict[str, int] = {}
    for pid, (_, cmd) in _procs().items():
        if "/raylet " in cmd and _names_gcs(cmd, rec.gcs_port):
            for part in cmd.split():
                if part.startswith("--node_id="):
                    out[part.split("=", 1)[1]] = pid
    return out


def kill(pids: set[int], grace: float = 10.0) -> set[int]:
    """SIGTERM, wait up to `grace`, SIGKILL the rest; returns what is still alive (normally none)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            alive = pids & set(_procs())
            if not alive:
                return set()
            time.sleep(0.1)
    return pids & set(_procs())


# -- ray start -----------------------------------------------------------------------------------
def ray_command() -> list[str]:
    """`ray` of this interpreter (`python -m ray.scripts.scripts`, what the `ray` script runs),
    never another one found on PATH: the cluster's processes, its workers and its job drivers
    then run the Python of the mlrt that started it (issue 10)."""
    return [sys.executable, "-m", "ray.scripts.scripts"]


def start_env() -> dict[str, str]:
    """The environment of `ray start`: this one without RAY_ADDRESS, and with this interpreter's
    folder first on PATH, so `python` in a job's shell (Ray gives drivers the PATH the cluster
    started with) is this interpreter even when the virtual environment is not activated."""
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        [bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]]
    )
    return env


def _size_args(size: dict[str, Any]) -> list[str]:
    """Resources of one node, and its own agent ports: several clusters (and several nodes of one
    cluster) share this machine, and Ray's fixed default ports would collide."""
    mem = int(float(size["memory_gib"]) * 2**30)
    store = max(80 * 2**20, min(2**30, mem // 10))
    ports = [
        "--dashboard-agent-listen-port",
        str(free_port()),
        "--dashboard-agent-grpc-port",
        str(free_port()),
        "--metrics-export-port",
        str(free_port()),
        "--runtime-env-agent-port",
        str(free_port()),
    ]
    return ports + [
        "--num-cpus",
        str(int(float(size["cpus"]))) if float(size["cpus"]).is_integer() else str(size["cpus"]),
        "--num-gpus",
        str(int(size["gpus"])),
        "--memory",
        str(mem),
        "--object-store-memory",
        str(store),
    ]


def _run_start(args: list[str], log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    env = start_env()
    with open(log, "ab") as out:
        try:
            proc = subprocess.run(
                [*ray_command(), "start", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                timeout=START_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PermanentError(
                f"`ray start` for {what} did not finish within {START_TIMEOUT:.0f}s", f"See {log}."
            ) from exc
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise PermanentError(
            f"`ray start` for {what} failed (exit code {proc.returncode})", f"Last lines of {log}:\n{tail}"
        )


def head_args(rec: ClusterRecord) -> list[str]:
    """The arguments of `ray start` for the head of `rec`: its own ports and temp dir, on
    127.0.0.1 (shared with tests that start a cluster from another Python)."""
    return [
        "--head",
        "--node-ip-address",
        "127.0.0.1",
        "--port",
        str(rec.gcs_port),
        "--dashboard-host",
        "127.0.0.1",
        "--dashboard-port",
        str(rec.dashboard_port),
        "--include-dashboard",
        "true",
        "--ray-client-server-port",
        str(rec.client_port),
        "--temp-dir",
        rec.temp_dir,
        "--disable-usage-stats",
        *_size_args(rec.size),
    ]


def start_head(rec: ClusterRecord, log: Path) -> None:
    _run_start(head_args(rec), log, f"the head of {rec.name}")


def add_worker(rec: ClusterRecord, node_name: str, log: Path) -> str:
    """Start one worker node; returns its node id."""
    before = set(_raylets(rec))
    args = [
        "--address",
        rec.gcs_address,
        "--node-ip-address",
        "127.0.0.1",
        "--disable-usage-stats",
        *_size_args(rec.size),
    ]
    _run_start(args, log, f"node {node_name}")
    new = set(_raylets(rec)) - before
    if len(new) != 1:
        raise PermanentError(
            f"Cannot tell which raylet is node {node_name}",
            f"Expected one new raylet after `ray start`, found {len(new)}. See {log}.",
        )
    node_id = new.pop()
    rec.workers[node_name] = node_id
    return node_id


def remove_worker(rec: ClusterRecord, node_name: str) -> None:
    node_id = rec.workers.get(node_name)
    if node_id:
        left = kill(node_pids(node_id))
        if left:
            raise PermanentError(
                f"Node {node_name} did not stop", f"Processes still running: {sorted(left)}."
            )
    rec.workers.pop(node_name, None)


def stop(rec: ClusterRecord) -> None:
    """End every process of the cluster and remove its temp dir."""
    left = kill(cluster_pids(rec))
    if left:
        left = kill(cluster_pids(rec), grace=2.0)
    if left:
        raise PermanentError(
            f"The Ray cluster of {rec.name} did not stop",
            f"Processes still running: {sorted(left)}. Stop them and run the command again.",
        )
    shutil.rmtree(rec.temp_dir, ignore_errors=True)
