"""One worker process: load the model, report ready, then serve HTTP on the instance's socket."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING

from mlrt_iac.runtime.serving.app import ServingApp
from mlrt_iac.runtime.serving.config import ServeConfig
from mlrt_iac.runtime.serving.errors import ModelLoadError
from mlrt_iac.runtime.serving.model import PredictFn, load_model
from mlrt_iac.runtime.serving.shared import SharedState

if TYPE_CHECKING:
    import uvicorn

LOG = logging.getLogger("mlrt.serving")

PR_SET_PDEATHSIG = 1
EXIT_LOAD_FAILED = 3
# How long a stopping worker waits for connections it accepted to send their first request.
FIRST_REQUEST_GRACE_S = 1.0


def _draining_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn.Server whose graceful stop does not drop connections it has just accepted.

    uvicorn's own shutdown closes every connection with no request in progress, including one
    accepted a moment ago whose request bytes are still on their way: the client sees "server
    disconnected" although it did nothing wrong (under load, during every rollover). This one stops
    accepting first, waits (at most FIRST_REQUEST_GRACE_S) until each accepted connection has sent
    its request, and only then runs uvicorn's shutdown, which lets those requests finish.
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + FIRST_REQUEST_GRACE_S
            while loop.time() < deadline and any(
                getattr(conn, "cycle", True) is None for conn in self.server_state.connections
            ):
                await asyncio.sleep(0.005)
            await super().shutdown(sockets)

    return DrainingServer(config)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM this worker when the supervisor dies, so no worker is orphaned."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass
    if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
        os._exit(1)


def worker_main(
    config: ServeConfig,
    shared: SharedState,
    index: int,
    sock: socket.socket,
    status: Connection,
    go: Event,
    parent_pid: int,
) -> None:
    """Entry point of a spawned worker (``index`` is its row in the shared state)."""
    _die_with_parent(parent_pid)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    threads = config.predict_threads(os.cpu_count() or 1)
    try:
        model = load_model(
            config.model_uri,
            config.functions,
            threads=threads,
            model_class=config.model_class,
            project_dir=config.project_dir,
        )
        model.functions = _servable(model.functions, shared.layout.functions)
    except ModelLoadError as exc:
        status.send(("error", str(exc)))
        sys.exit(EXIT_LOAD_FAILED)
    status.send(("ready", os.getpid()))
    go.wait()
    app = ServingApp(model, config, shared, index)
    try:
        _serve(app, config, sock, parent_pid)
    finally:
        app.close()


def _servable(functions: dict[str, PredictFn], slots: tuple[str, ...]) -> dict[str, PredictFn]:
    """The functions the instance has metrics slots for (a custom model's methods not named in
    --functions are left out); ModelLoadError when none is left."""
    kept = {name: fn for name, fn in functions.items() if name in slots}
    if functions and not kept:
        raise ModelLoadError(
            f"The model offers {', '.join(sorted(functions))}; name the ones to serve with --functions."
        )
    return kept


def _serve(app: ServingApp, config: ServeConfig, sock: socket.socket, parent_pid: int) -> None:
    """Run uvicorn (httptools + uvloop when installed) on the shared, already bound socket.

    uvicorn's own SIGTERM handling gives the graceful stop: the socket closes, requests in flight
    finish (up to graceful_timeout_s), then the process exits.
    """
    import uvicorn

    from mlrt_iac.runtime.serving.protocol import LimitedHttpProtocol

    uv_config = uvicorn.Config(
        app,
        loop="auto",
        # httptools with a head limit, a read deadline and a close that resets nothing (protocol.py)
        http=LimitedHttpProtocol.with_limits(config.max_header_bytes, config.request_timeout_s),
        lifespan="off",
        access_log=False,
        log_level="warning",
        limit_concurrency=config.max_connections_per_worker,
        timeout_keep_alive=config.keep_alive_s,  # type: ignore[arg-type]  # uvicorn accepts a float
        timeout_graceful_shutdown=int(config.graceful_timeout_s),
        backlog=config.backlog,
        server_header=False,
        date_header=False,
        proxy_headers=False,
    )
    server = _draining_server(uv_config)

    async def watch_parent() -> None:
        # a second guard where prctl is unavailable: stop once the supervisor is gone
        while os.getppid() == parent_pid:
            await asyncio.sleep(1.0)
        server.should_exit = True

    async def main() -> None:
        watcher = asyncio.create_task(watch_parent())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()

    loop_factory = uv_config.get_loop_factory()
    if loop_factory is None:
        asyncio.run(main())
    else:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
