"""Fixtures: a real temporary project directory and a configured local provider."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.provider import ProviderContext
from providers.local import LocalProvider

# A small custom family so budgets are exact whatever machine runs the tests.
TINY = {"cpus": 1, "memory_gib": 1, "gpus": 0, "gpu_type": ""}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    return tmp_path / "proj"


@pytest.fixture
def ctx(project: Path) -> ProviderContext:
    return ProviderContext(project_dir=project, data_dir=project / ".mlrt")


@pytest.fixture
def make_provider(ctx: ProviderContext) -> Callable[..., LocalProvider]:
    def make(**config: Any) -> LocalProvider:
        p = LocalProvider()
        config.setdefault("instance_family", {"TINY": dict(TINY)})
        diags = p.configure(config, ctx)
        assert not diags.has_errors, list(diags)
        return p

    return make


@pytest.fixture
def provider(make_provider: Callable[..., LocalProvider]) -> LocalProvider:
    """A budget of 4 vCPUs and 8 GiB (the host has at least 1 vCPU: tests that need 4 set max_*)."""
    return make_provider(max_cpus=4, max_memory_gib=8, max_gpus=0, overcommit=_overcommit_for(4))


def _overcommit_for(cpus: int) -> float:
    """Overcommit so the cpu budget is exactly `cpus` even on a host with fewer cores."""
    from providers.kit.machine import host_capacity

    host = host_capacity().cpus
    return max(1.0, cpus / min(host, cpus))


@pytest.fixture
def lock_holder() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start a real process that holds an flock on a file until its stdin is closed."""
    procs: list[subprocess.Popen[str]] = []
    code = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )

    def start(path: Path) -> subprocess.Popen[str]:
        path.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)


HEALTH_SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[int, int]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", HEALTH_SERVER, str(port)], start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield proc.pid, port
    finally:
        proc.kill()
        proc.wait()
