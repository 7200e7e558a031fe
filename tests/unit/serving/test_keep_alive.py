"""A keep-alive expiry never resets a request that has already arrived.

uvicorn closes an idle connection when its keep-alive timer fires. If the worker's event loop was
busy (predicting a batch) when the client reused the connection, the request sits unread in the
socket as the timer fires; closing then resets it and the client sees ECONNRESET instead of an
answer (the overload test met this once in CI). The server is real (uvicorn with mlrt's protocol,
on 127.0.0.1); the busy loop is reproduced by pausing reads on that one connection.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from mlrt_iac.runtime.serving.protocol import LimitedHttpProtocol

REQUEST = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n"


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-length", b"2"), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


class _Server:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(_ok, http=LimitedHttpProtocol, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.started.wait(10), "the server did not start"

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
            while not self.server.started:
                await asyncio.sleep(0.01)
            self.started.set()
            await task

        asyncio.run(main())

    def on_loop(self, fn: Any) -> Any:
        """Run fn() on the server's event loop and return its result."""
        assert self.loop is not None

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
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


def test_an_idle_connection_whose_next_request_waits_unread_is_not_closed(server: _Server) -> None:
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


def test_an_idle_connection_with_nothing_waiting_is_closed_at_expiry(server: _Server) -> None:
    client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        client.sendall(REQUEST)
        assert _read_answer(client).startswith(b"HTTP/1.1 200")
        (protocol,) = server.on_loop(lambda: list(server.server.server_state.connections))
        server.on_loop(protocol.timeout_keep_alive_handler)
        assert client.recv(4096) == b""  # an orderly close, no reset
    finally:
        client.close()
