"""One worker process: load the model, report ready, then serve HTTP on the instance's socket."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import math
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
DRAIN_POLL_S = 0.01


def draining_server(config: uvicorn.Config, drain_s: float, graceful_s: float) -> uvicorn.Server:
    """A uvicorn.Server whose graceful stop resets no keep-alive client: it drains first.

    uvicorn's own shutdown closes every connection with no request in progress at once: one
    accepted a moment ago whose first request is still on its way, and every idle keep-alive
    connection. A keep-alive client (httpx, a load balancer) sending its next request on such a
    connection at that moment sees a reset or "server disconnected" although it did nothing wrong:
    during a rolling update, a few requests in a dozen model updates. This server's stop:

    1. stops accepting (the listening socket is shared: the instance taking over, if any, accepts
       what still comes; see ``handoff.py``);
    2. drains for ``drain_s`` seconds at most (``--drain-timeout``): requests in flight finish,
       every answer carries ``Connection: close`` and its connection closes after it, and an idle
       connection stays open so that a request the client sends on it is answered (with
       ``Connection: close``) instead of reset (``LimitedHttpProtocol.start_draining``). Clients
       then open a new connection, which the instance taking over accepts. The window ends early
       once every connection has closed: with busy keep-alive clients, after one answer each;
    3. runs uvicorn's shutdown, which closes what is still idle (only when nothing waits unread on
       it: a request already there is answered first, see ``LimitedHttpProtocol.shutdown``) and
       waits for the rest until ``graceful_s`` (drain included) has passed.

    What no server can prevent: a request still on the wire when an idle connection closes at the
    end of the window. A client that has been idle for the whole window meets the close as it would
    a keep-alive expiry, and HTTP clients check an idle connection before reusing it.
    """
    import uvicorn

    from mlrt_iac.runtime.serving.protocol import DRAINING_ATTR

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            setattr(self.server_state, DRAINING_ATTR, True)  # for connections made from now on
            connections = list(self.server_state.connections)
            for conn in connections:
                start_draining = getattr(conn, "start_draining", None)
                if start_draining is not None:
                    start_draining()
            loop = asyncio.get_running_loop()
            started = loop.time()
            window = min(drain_s, graceful_s)
            if connections:
                LOG.info("draining %d connections (at most %g s)", len(connections), window)
            while self.server_state.connections and not self.force_exit:
                if loop.time() - started >= window:
                    break
                await asyncio.sleep(DRAIN_POLL_S)
            left = graceful_s - (loop.time() - started)
            self.config.timeout_graceful_shutdown = max(1, math.ceil(left))
            await super().shutdown()

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

    uvicorn's own SIGTERM handling starts the graceful stop: the socket closes, the connections drain
    (``draining_server``), requests in flight finish (up to graceful_timeout_s), then the process
    exits.
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
    server = draining_server(uv_config, config.drain_timeout_s, config.graceful_timeout_s)

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
        # Not asyncio.Runner(loop_factory=...): that is Python 3.11+, and mlrt supports 3.10.
        loop = loop_factory()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
