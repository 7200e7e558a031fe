"""Clear failures without a cluster: an address nobody listens on, one that never answers, a
cluster on another Ray version, and a training that asks more nodes than its pool has."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from providers.local.service import free_port
from tests.e2e.helpers import run_mlrt

from .conftest import write_project

POOL = """
mlrt {
  default_provider = "ray"
}

provider "ray" {
  address = "%s"
}

compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}
"""


def _apply_fails(tmp_path: Path, address: str) -> tuple[str, float]:
    project = write_project(tmp_path / "p", {"main.hcl": POOL % address})
    started = time.monotonic()
    out = run_mlrt(project, "apply", "-auto-approve", timeout=60)
    elapsed = time.monotonic() - started
    assert out.returncode == 1, out.stdout + out.stderr
    return out.stdout + out.stderr, elapsed


def test_nobody_listening(tmp_path: Path) -> None:
    address = f"http://127.0.0.1:{free_port()}"
    text, elapsed = _apply_fails(tmp_path, address)
    assert f"Cannot reach the Ray cluster at {address}" in text
    assert f"Tried GET {address}/api/version" in text
    assert elapsed < 10


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_address_that_never_answers(tmp_path: Path, silent_server: str) -> None:
    text, elapsed = _apply_fails(tmp_path, silent_server)
    assert f"The Ray cluster at {silent_server} did not answer" in text
    assert elapsed < 10 + 3  # the CLI's own start-up on top of the 6 s request limit


@pytest.fixture
def old_ray() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"version": "4", "ray_version": "2.9.3"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_version_mismatch_is_named(tmp_path: Path, old_ray: str) -> None:
    from providers.ray.client import local_ray_version

    text, _ = _apply_fails(tmp_path, old_ray)
    assert f"the cluster at {old_ray} runs Ray 2.9.3, mlrt has Ray {local_ray_version()}" in text


def test_training_larger_than_its_pool_is_a_plan_error(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        {
            "main.hcl": (POOL % "http://127.0.0.1:1")
            + """
training "big" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "train.parquet"
    label_col = "label"
  }

  scaling {
    num_nodes = 3
  }
}
"""
        },
    )
    out = run_mlrt(project, "validate", timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert "training.big" in text or 'training "big"' in text
    assert "compute_pool" in text and "max_nodes" in text
