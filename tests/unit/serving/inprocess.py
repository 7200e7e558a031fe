"""A real uvicorn server with mlrt's HTTP protocol on 127.0.0.1, run in a thread of the test.

For tests that reach into one connection's protocol on the server's event loop (pause its reads,
fire its timers) to reproduce an interleaving a real client cannot force.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from mlrt_iac.runtime.serving.protocol import LimitedHttpProtocol


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    """Answers every request 200 "ok"."""
    if scope["type"] != "http":
        return
    headers = [(b"content-length", b"2"), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


class InProcessServer:
    """uvicorn (``make_server(config)``, by default a plain uvicorn.Server) on a free port."""

    def __init__(
        self,
        app: Any = ok_app,
        make_server: Callable[[uvicorn.Config], uvicorn.Server] = uvicorn.Server,
    ) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, http=LimitedHttpProtocol, lifespan="off", log_level="warning")
        self.server = make_server(config)
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

    def connections(self) -> list[Any]:
        """The protocols of the server's open connections."""
        return list(self.on_loop(lambda: list(self.server.server_state.connections)))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()
