"""A stopping worker answers the next request of an idle keep-alive connection instead of resetting it.

uvicorn's graceful stop closes every idle keep-alive connection at once. A keep-alive client (httpx,
requests' Session, a load balancer) that sends its next request on such a connection at that moment
gets a reset or "server disconnected" instead of an answer: during a rolling model update, a few
requests in every dozen updates. A stopping worker therefore drains: for ``--drain-timeout`` seconds
an idle connection stays open, and its next request is answered with ``Connection: close``.

The first test stops a real server process; the others drive one connection's protocol on an
in-process server's event loop (``inprocess.py``) to reproduce interleavings a client cannot force.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
import xgboost as xgb

from mlrt_iac.runtime.serving.worker import draining_server
from tests.unit.serving.helpers import COLS, Server, rows_body, training_data
from tests.unit.serving.inprocess import InProcessServer

GET = b"GET / HTTP/1.1\r\nhost: t\r\n\r\n"


def _listen_inode(port: int) -> str:
    """The inode of the socket listening on 127.0.0.1:port (from /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            return f"socket:[{fields[9]}]"
    raise AssertionError(f"nothing listens on port {port}")


def _holds(pid: int, inode: str) -> bool:
    """Whether process ``pid`` still has the socket ``inode`` open."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == inode:
                return True
        except OSError:
            continue
    return False


class _Reader:
    """Reads HTTP/1.1 responses off one client socket, keeping what arrives beyond each one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _more(self, what: str) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the connection closed {what}: {self.buf!r}")
        self.buf += chunk

    def response(self) -> tuple[bytes, dict[str, str], bytes]:
        """The next response: status line, headers (lower-case names), body (by content-length)."""
        while b"\r\n\r\n" not in self.buf:
            self._more("before an answer")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status, *lines = head.split(b"\r\n")
        headers = {
            k.strip().lower().decode(): v.strip().decode() for k, v in (ln.split(b":", 1) for ln in lines)
        }
        size = int(headers["content-length"])
        while len(self.buf) < size:
            self._more("in the middle of an answer")
        body, self.buf = self.buf[:size], self.buf[size:]
        return status, headers, body

    def closed(self) -> bool:
        """Whether the server closed the connection (in order) with nothing more sent."""
        return self.buf == b"" and self.sock.recv(1) == b""


def _read_response(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """The one response expected on ``sock`` (nothing is sent after it but a close)."""
    reader = _Reader(sock)
    answer = reader.response()
    assert reader.buf == b"", reader.buf
    return answer


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
    return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body


def test_an_idle_keep_alive_connection_is_answered_after_the_stop_signal(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    server = start_server(xgb_model[0])
    assert server.proc is not None
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        client.sendall(_request("GET", "/health"))
        status, headers, body = _read_response(client)
        assert status.startswith(b"HTTP/1.1 200") and headers.get("connection") != "close"
        worker = json.loads(body)["pid"]  # the worker that holds this (now idle) connection
        inode = _listen_inode(server.port)
        assert _holds(worker, inode)

        server.proc.send_signal(signal.SIGTERM)
        # The worker has begun its stop once it has closed its copy of the listening socket.
        deadline = time.monotonic() + 20
        while _holds(worker, inode):
            assert time.monotonic() < deadline, "the worker never began to stop"
            time.sleep(0.005)  # polling for the stop to begin, not timing the result

        # The keep-alive client sends its next request on the connection it already has.
        x, _ = training_data(3, seed=7)
        client.sendall(_request("POST", "/predict", json.dumps(rows_body(x)).encode()))
        status, headers, body = _read_response(client)
        assert status.startswith(b"HTTP/1.1 200"), (status, body)
        assert headers.get("connection") == "close"
        rows = json.loads(body)["data"]
        assert [r[0] for r in rows] == [0, 1, 2]
        expected = xgb_model[1].predict(xgb.DMatrix(x, feature_names=COLS))
        np.testing.assert_allclose([r[1] for r in rows], expected, rtol=1e-6)
        assert client.recv(1) == b""  # then an orderly close, no reset
        assert server.proc.wait(30) == 0
    finally:
        client.close()


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)  # polling for a state, not timing a result


def test_a_request_waiting_unread_as_the_drain_ends_is_answered_not_reset() -> None:
    server = InProcessServer()
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        client.sendall(GET)
        assert _read_response(client)[2] == b"ok"
        (protocol,) = server.connections()
        server.on_loop(protocol.start_draining)
        # the client reuses its idle connection; the loop has not read the request yet...
        server.on_loop(lambda: protocol._raw.pause_reading())
        client.sendall(GET)
        poller = select.poll()
        poller.register(protocol._raw.get_extra_info("socket").fileno(), select.POLLIN)
        assert poller.poll(10_000), "the request never reached the server's socket"
        # ...when the drain window ends (uvicorn's shutdown closes what is idle)
        server.on_loop(protocol.shutdown)
        server.on_loop(lambda: protocol._raw.resume_reading())
        status, headers, body = _read_response(client)
        assert status.startswith(b"HTTP/1.1 200") and body == b"ok"
        assert headers.get("connection") == "close"
        assert client.recv(1) == b""
    finally:
        client.close()
        server.stop()


def test_requests_in_progress_when_the_drain_starts_are_answered_with_connection_close() -> None:
    entered = threading.Event()
    release: list[asyncio.Event] = []

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/wait":
            release.append(asyncio.Event())
            entered.set()
            await release[0].wait()
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    server = InProcessServer(slow)
    running = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    reading = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        running.sendall(b"GET /wait HTTP/1.1\r\nhost: t\r\n\r\n")
        assert entered.wait(10)
        reading.sendall(b"GET / HTTP/1.1\r\nhost: t\r\n")  # half a head so far
        _wait_until(lambda: len(server.connections()) == 2, "the second connection")
        (half,) = [c for c in server.connections() if c.cycle is None]
        _wait_until(lambda: server.on_loop(lambda: half._in_message), "the half head to be read")
        for protocol in server.connections():
            server.on_loop(protocol.start_draining)
        reading.sendall(b"\r\n")
        server.on_loop(lambda: release[0].set())
        for client in (running, reading):
            status, headers, body = _read_response(client)
            assert status.startswith(b"HTTP/1.1 200") and body == b"ok"
            assert headers.get("connection") == "close"
            assert client.recv(1) == b""
    finally:
        running.close()
        reading.close()
        server.stop()


def test_a_connection_still_idle_when_the_window_ends_is_closed_and_the_server_stops() -> None:
    def make(config: uvicorn.Config) -> uvicorn.Server:
        return draining_server(config, drain_s=0.2, graceful_s=5.0)

    server = InProcessServer(make_server=make)
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        client.sendall(GET)
        status, headers, _ = _read_response(client)
        assert headers.get("connection") != "close"
        server.stop()
        assert not server.thread.is_alive()
        assert client.recv(1) == b""  # an orderly close, no reset
    finally:
        client.close()
        server.stop()


@pytest.mark.parametrize("second_before_drain", [True, False])
def test_a_pipelined_request_is_answered_before_the_drain_closes(second_before_drain: bool) -> None:
    entered = threading.Event()
    release: list[asyncio.Event] = []

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/wait":
            release.append(asyncio.Event())
            entered.set()
            await release[0].wait()
        body = scope["path"].encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    server = InProcessServer(slow)
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    second = b"GET /second HTTP/1.1\r\nhost: t\r\n\r\n"
    try:
        client.sendall(b"GET /wait HTTP/1.1\r\nhost: t\r\n\r\n" + (second if second_before_drain else b""))
        assert entered.wait(10)
        (protocol,) = server.connections()
        if second_before_drain:
            _wait_until(lambda: server.on_loop(lambda: len(protocol.pipeline)) == 1, "the pipelined request")
        server.on_loop(protocol.start_draining)
        if not second_before_drain:
            client.sendall(second)
            _wait_until(lambda: server.on_loop(lambda: len(protocol.pipeline)) == 1, "the pipelined request")
        server.on_loop(lambda: release[0].set())
        reader = _Reader(client)
        status, headers, body = reader.response()
        assert (status[:12], body, headers.get("connection")) == (b"HTTP/1.1 200", b"/wait", None)
        status, headers, body = reader.response()
        assert (status[:12], body, headers.get("connection")) == (b"HTTP/1.1 200", b"/second", "close")
        assert reader.closed()
    finally:
        client.close()
        server.stop()
