"""One serving instance: a supervisor process that binds the port and runs the worker processes.

The supervisor takes over the listening socket of an instance already on ``host:port`` (see
``handoff``: one accept queue, so replacing an instance resets no connection) or else binds the port
with SO_REUSEPORT (so ``max_instances`` instances share one URL), spawns ``workers`` processes that inherit the socket, and lets them start listening only once
every one of them has loaded the model, so ``/health`` answers 200 only from a ready instance.
A worker that dies is replaced; SIGTERM or SIGINT stops the workers gracefully (requests in flight
finish) and the supervisor exits 0 with no process left behind.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event
from types import FrameType

from mlrt_iac.runtime.serving.config import ServeConfig
from mlrt_iac.runtime.serving.errors import ModelLoadError
from mlrt_iac.runtime.serving.handoff import HandoffPoint, ask_for_socket
from mlrt_iac.runtime.serving.model import KNOWN_FUNCTIONS, model_dir_from_uri, read_metadata
from mlrt_iac.runtime.serving.shared import SharedState, spawn_context
from mlrt_iac.runtime.serving.worker import worker_main

LOG = logging.getLogger("mlrt.serving")

EXIT_OK = 0
EXIT_FAILED = 1
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
KILL_GRACE_S = 5.0


def bind_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT but not listening yet (no connection lands on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ModelLoadError(
            f"Cannot bind {host}:{port}: {exc.strerror}. Another program (not an mlrt instance "
            "with SO_REUSEPORT) holds the port; choose another port or stop that program."
        ) from exc
    sock.set_inheritable(True)
    return sock


def served_names(config: ServeConfig) -> tuple[str, ...]:
    """The functions the shared metrics have a slot for: the framework functions plus the custom
    methods named in ``functions`` (a custom model's other methods are served only when named)."""
    extra = tuple(f for f in config.functions or () if f not in KNOWN_FUNCTIONS)
    return KNOWN_FUNCTIONS + extra


@dataclass
class _Worker:
    process: SpawnProcess
    status: Connection


@dataclass
class Instance:
    """The supervisor's view of its workers (one slot per worker index)."""

    config: ServeConfig
    ctx: SpawnContext = field(default_factory=spawn_context)
    workers: dict[int, _Worker] = field(default_factory=dict)
    stopping: bool = False

    def __post_init__(self) -> None:
        self.sock: socket.socket | None = None
        self.shared: SharedState | None = None
        self.go: Event = self.ctx.Event()
        self.restarts: list[float] = []
        self.adopted = False
        self.handoff: HandoffPoint | None = None

    def start(self) -> None:
        """Adopt or bind the socket, spawn every worker, wait until all have loaded the model, serve."""
        read_metadata(model_dir_from_uri(self.config.model_uri))  # fail fast, before binding
        adopted = ask_for_socket(self.config.host, self.config.port)
        if adopted is not None:
            adopted.set_inheritable(True)
            self.sock, self.adopted = adopted, True
            LOG.info("took over the listening socket of the instance already on port %d", self.port)
        else:
            self.sock = bind_socket(self.config.host, self.config.port, self.config.backlog)
        self.shared = SharedState(
            self.ctx, self.config.workers, served_names(self.config), self.config.max_queue
        )
        for index in range(self.config.workers):
            self._spawn(index)
        pending = set(self.workers)
        while pending:
            if self.stopping:
                raise InterruptedError("stopped while starting")
            wait(
                [self.workers[i].status for i in pending]
                + [self.workers[i].process.sentinel for i in pending],
                timeout=0.5,
            )
            for index in list(pending):
                worker = self.workers[index]
                if worker.status.poll():  # read the message before looking at the exit
                    kind, detail = worker.status.recv()
                    if kind == "error":
                        raise ModelLoadError(str(detail))
                    pending.discard(index)
                elif not worker.process.is_alive():
                    raise ModelLoadError(
                        f"Worker {index} exited with code {worker.process.exitcode} while loading "
                        f"the model {self.config.model_uri}; see its log above."
                    )
        # Listen here, before the workers' event loops are up: from now on connections queue on
        # the socket (and are served a moment later) instead of being refused, so the ready
        # file written after start() means "this instance takes connections". An adopted socket
        # listens already (the old instance's workers serve its queue until these take part).
        if not self.adopted:
            self.sock.listen(self.config.backlog)
        self.go.set()
        self.handoff = HandoffPoint(self.config.host, self.port, self.sock)
        self.handoff.open_point()

    @property
    def port(self) -> int:
        assert self.sock is not None
        return int(self.sock.getsockname()[1])

    def _spawn(self, index: int) -> None:
        assert self.sock is not None and self.shared is not None
        parent_end, child_end = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(
            target=worker_main,
            name=f"mlrt-serve-{self.config.instance_id}-w{index}",
            args=(self.config, self.shared, index, self.sock, child_end, self.go, os.getpid()),
        )
        process.start()
        child_end.close()
        self.workers[index] = _Worker(process, parent_end)

    def supervise(self, wake: socket.socket) -> int:
        """Replace dead workers until asked to stop; give up after too many crashes."""
        while not self.stopping:
            sentinels = {w.process.sentinel: i for i, w in self.workers.items()}
            # Take over the handoff name when the instance that held it has gone (a rollover).
            point = self.handoff.open_point() if self.handoff is not None else None
            extra = [point] if point is not None else []
            ready = wait(list(sentinels) + [wake, *extra], timeout=5.0 if point is not None else 0.5)
            for obj in ready:
                if point is not None and obj is point:
                    assert self.handoff is not None
                    self.handoff.serve_one()
                    continue
                if obj is wake:
                    try:
                        wake.recv(64)
                    except BlockingIOError:
                        pass
                    continue
                index = sentinels[obj]  # type: ignore[index]
                if self.stopping:
                    break
                if not self._replace(index):
                    return EXIT_FAILED
        return EXIT_OK

    def _replace(self, index: int) -> bool:
        assert self.shared is not None
        old = self.workers[index]
        old.process.join()
        try:  # a restarted worker that could not load the model says why: into the log
            if old.status.poll():
                kind, detail = old.status.recv()
                if kind == "error":
                    LOG.error("worker %d could not load the model: %s", index, detail)
        except (EOFError, OSError, ValueError):
            pass
        old.status.close()
        self.shared.reset_worker(index)
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self.restarts) > MAX_RESTARTS:
            LOG.error(
                "workers crashed %d times in %.0fs; stopping the instance",
                len(self.restarts),
                RESTART_WINDOW_S,
            )
            return False
        LOG.warning("worker %d exited with code %s; starting a new one", index, old.process.exitcode)
        self._spawn(index)
        return True

    def stop(self) -> None:
        """SIGTERM every worker, wait for in-flight requests, SIGKILL what is left, close up."""
        self.stopping = True
        shared = self.adopted
        if self.handoff is not None:
            shared = shared or self.handoff.handed > 0
            self.handoff.close()
        if self.sock is not None and not shared:
            # A socket of our own: leave the SO_REUSEPORT group first. The workers share this one
            # listening socket, so closing their copies would leave it listening with nobody to
            # accept, and connections the kernel still hashed to it would hang and then be reset.
            # After shutdown() new connections go to the other instances on the port.
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        elif self.sock is not None:
            # A socket shared with another instance: shutdown() would stop it for that one too.
            # Close this process's copy; the workers close theirs on SIGTERM, and the queue (with
            # every connection in it) carries on in the other instance.
            self.sock.close()
        self.go.set()  # a worker still waiting to listen must get to its signal handling
        for worker in self.workers.values():
            if worker.process.is_alive() and worker.process.pid is not None:
                try:
                    os.kill(worker.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + self.config.graceful_timeout_s + KILL_GRACE_S
        for worker in self.workers.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                LOG.warning("worker %s did not stop in time; killing it", worker.process.pid)
                worker.process.kill()
                worker.process.join()
            worker.status.close()
        if self.sock is not None:
            self.sock.close()


def write_ready_file(config: ServeConfig, port: int) -> None:
    """Tell a supervisor (the local provider) that *this* instance is ready.

    With several instances on one port, ``GET /health`` reaches whichever one the kernel picks; the
    ready file names this one (pid, port, instance id). Written atomically, removed at exit.
    """
    assert config.ready_file is not None
    info = {
        "status": "ok",
        "pid": os.getpid(),
        "host": config.host,
        "port": port,
        "instance": config.instance_id,
        "workers": config.workers,
        "model": str(config.model_uri),
    }
    tmp = config.ready_file.with_name(config.ready_file.name + ".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, config.ready_file)


def run_instance(config: ServeConfig) -> int:
    """Serve until SIGTERM/SIGINT; the process exit code (0 after a clean stop)."""
    instance = Instance(config)
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        instance.stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    try:
        try:
            instance.start()
        except InterruptedError:
            return EXIT_OK
        LOG.info(
            "instance %s ready on http://%s:%d (%d workers, model %s)",
            config.instance_id,
            config.host,
            instance.port,
            config.workers,
            config.model_uri,
        )
        if config.ready_file is not None:
            write_ready_file(config, instance.port)
        return instance.supervise(wake_r)
    finally:
        instance.stop()
        if config.ready_file is not None:
            config.ready_file.unlink(missing_ok=True)
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wake_r.close()
        wake_w.close()
