"""Instances sharing a port, graceful SIGTERM, crashed workers, start-up failures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.unit.serving.helpers import ROOT, Server, alive, descendants, free_port, rows_body, training_data


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)  # polling for a state change, not timing a result
    raise AssertionError(f"timed out waiting for {what}")


def test_two_instances_share_one_port(
    xgb_model: tuple[Path, Any], tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    port = free_port()
    servers = [
        start_server(
            xgb_model[0], port=port, instance_id=i, extra=["--ready-file", str(tmp_path / f"{i}.ready")]
        )
        for i in "ab"
    ]
    for server in servers:  # each instance says it is ready, though /health may reach the other
        ready = json.loads((tmp_path / f"{server.instance_id}.ready").read_text())
        assert server.proc is not None and ready["pid"] == server.proc.pid
        assert ready["port"] == port and ready["instance"] == server.instance_id
    x, _ = training_data(10, seed=31)
    seen: set[str] = set()
    for _ in range(200):  # each new connection is balanced by the kernel between the instances
        with httpx.Client() as client:
            seen.add(client.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["instance"])
            r = client.post(f"http://127.0.0.1:{port}/predict", json=rows_body(x), timeout=10)
            assert r.status_code == 200
        if seen == {"a", "b"}:
            break
    assert seen == {"a", "b"}


def test_sigterm_finishes_in_flight_request_and_leaves_no_process(
    xgb_model: tuple[Path, Any], tmp_path: Path
) -> None:
    ready_file = tmp_path / "ready.json"
    server = Server(xgb_model[0], free_port(), workers=2, extra=["--ready-file", str(ready_file)])
    server.start(tmp_path)
    assert server.proc is not None
    try:
        tree = descendants(server.proc.pid)
        assert len(tree) >= 2  # the workers (and multiprocessing's resource tracker)
        x, _ = training_data(50, seed=32)
        body = json.dumps(rows_body(x)).encode()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:100]
        )

        def in_flight() -> bool:
            text = httpx.get(server.url + "/metrics", timeout=5).text
            return 'mlrt_serving_in_flight{instance="0"} 1' in text

        _wait_for(in_flight, 20, "the request to be in flight")
        server.proc.send_signal(signal.SIGTERM)
        sock.sendall(body[100:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"]]}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["data"]) == 50
        assert server.proc.wait(60) == 0
        assert not ready_file.exists()
        _wait_for(lambda: not any(alive(p) for p in tree), 10, "every worker to exit")
        _wait_for(lambda: _refused(server.port), 10, "the port to be closed")
    finally:
        server.stop()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_killed_worker_is_replaced(xgb_model: tuple[Path, Any], start_server: Callable[..., Server]) -> None:
    server = start_server(xgb_model[0], workers=2)
    assert server.proc is not None
    before = {p for p in descendants(server.proc.pid) if alive(p)}
    victim = httpx.get(server.url + "/health", timeout=5).json()["pid"]
    assert victim in before
    os.kill(victim, signal.SIGKILL)
    x, _ = training_data(5, seed=33)

    def replaced() -> bool:
        now = {p for p in descendants(server.proc.pid) if alive(p)}  # type: ignore[union-attr]
        return victim not in now and len(now) == len(before)

    _wait_for(replaced, 60, "a new worker")
    new_pids = {p for p in descendants(server.proc.pid) if alive(p)} - before

    def new_worker_answers() -> bool:  # a fresh connection may reach either worker
        return httpx.get(server.url + "/health", timeout=30).json()["pid"] in new_pids

    _wait_for(new_worker_answers, 60, "the new worker to serve")
    for _ in range(10):
        assert httpx.post(server.url + "/predict", json=rows_body(x), timeout=30).status_code == 200
    assert server.proc.poll() is None


def test_bad_model_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlrt_iac.runtime.serving",
            "--model-uri",
            str(tmp_path),
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Error: cannot start the inference server" in result.stderr
    assert "No model metadata" in result.stderr


def test_unknown_function_fails_start(xgb_model: tuple[Path, Any]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlrt_iac.runtime.serving",
            "--model-uri",
            str(xgb_model[0]),
            "--port",
            str(free_port()),
            "--functions",
            "predict,explain",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Unknown function explain" in result.stderr


def test_killed_supervisor_takes_its_workers_along(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    server = start_server(xgb_model[0], workers=2)
    assert server.proc is not None
    tree = {p for p in descendants(server.proc.pid) if alive(p)}
    assert len(tree) >= 2
    server.proc.kill()  # no chance to clean up: the workers must notice on their own
    server.proc.wait()
    _wait_for(lambda: not any(alive(p) for p in tree), 20, "the orphaned workers to exit")
