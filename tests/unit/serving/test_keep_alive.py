"""A keep-alive expiry never resets a request that has already arrived.

uvicorn closes an idle connection when its keep-alive timer fires. If the worker's event loop was
busy (predicting a batch) when the client reused the connection, the request sits unread in the
socket as the timer fires; closing then resets it and the client sees ECONNRESET instead of an
answer (the overload test met this once in CI). The server is real (uvicorn with mlrt's protocol,
on 127.0.0.1); the busy loop is reproduced by pausing reads on that one connection.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest

from tests.unit.serving.inprocess import InProcessServer

REQUEST = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n"


@pytest.fixture
def server() -> Iterator[InProcessServer]:
    s = InProcessServer()
    try:
        yield s
    finally:
        s.stop()


def _read_answer(client: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"ok"):
        chunk = client.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_an_idle_connection_whose_next_request_waits_unread_is_not_closed(server: InProcessServer) -> None:
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        client.sendall(REQUEST)
        assert _read_answer(client).startswith(b"HTTP/1.1 200")
        (protocol,) = server.on_loop(lambda: list(server.server.server_state.connections))
        # the loop is "busy": it reads nothing from this connection while the request arrives
        server.on_loop(lambda: protocol._raw.pause_reading())
        client.sendall(REQUEST)
        fd = protocol._raw.get_extra_info("socket").fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(10_000), "the request never reached the server's socket"
        # the keep-alive timer fires now, then the loop gets round to reading
        server.on_loop(protocol.timeout_keep_alive_handler)
        server.on_loop(lambda: protocol._raw.resume_reading())
        assert _read_answer(client).startswith(b"HTTP/1.1 200")
    finally:
        client.close()


def test_an_idle_connection_with_nothing_waiting_is_closed_at_expiry(server: InProcessServer) -> None:
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        client.sendall(REQUEST)
        assert _read_answer(client).startswith(b"HTTP/1.1 200")
        (protocol,) = server.on_loop(lambda: list(server.server.server_state.connections))
        server.on_loop(protocol.timeout_keep_alive_handler)
        assert client.recv(4096) == b""  # an orderly close, no reset
    finally:
        client.close()
