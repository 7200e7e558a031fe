"""`service` on the local provider: inference-server processes on loopback, supervised.

Each of `max_instances` instances is one `python -m mlrt_iac.runtime.serving` process tree,
started detached (its own session) with its pid and log under `.mlrt/services/<name>/`. All
instances bind one port with SO_REUSEPORT, so the endpoint is one URL. A service is ready only
when `/health` answers. Changing the model, workers or queue is a rolling replacement on the
same port: new instances start and become healthy before the old ones get SIGTERM (they finish
their in-flight requests), so clients see no failed request. `suspended = true` stops the
processes and keeps the service. The model directories a service serves (both while it rolls)
are recorded under `.mlrt/model-users/local-<name>.json`, so a training never prunes a model
version in use (`providers.kit.models`). Failure contract: create that fails stops what it started.

A refresh reads a service whose instances have stopped on their own (the supervisor gave up on
workers that kept crashing, a model that no longer loads after a restart) or no longer answer
/health as status FAILED, with `status_message` the last error lines of its instance logs
(`failure_cause`); the plan then updates it in place (a restart on the same port), the cause
next to `status`. Only a service whose folder is gone reads as deleted.

A service that starts claims its pool first (auto-resume, `compute_pool.py`); suspending the
pool stops it and resuming the pool starts it again (`pool_work.py`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    DiffResult,
    Finding,
    LogLine,
    LogQuery,
    ProviderContext,
    ReadRequest,
    ReadResult,
    UpdateResult,
    filled,
)
from providers.kit import models, service_image
from providers.kit.batch import process_table, read_by_scan
from providers.kit.build_checks import egress_findings, requirement_findings
from providers.kit.names import file_safe_name, name_as_id
from providers.kit.processes import ProcessRef, stop_groups
from providers.kit.records import atomic_write_json, read_json
from providers.kit.service_status import FAILED, planned_status, service_diff
from providers.kit.waiting import deadline_binds, exceeded, seconds_left

from .common import LocalHandler
from .logs import service_logs
from .pool_work import mark, pool_name, record_spec, stopped_by_pool

COMPUTED = ("endpoint", "functions_urls", "status", "status_message", "image")
REPLACE = ("name", "compute_pool", "ingress_enabled", "gpu_requests", "image_repository")
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
CAUSE_LINES = 5  # error lines of an instance log in a FAILED service's status_message
CAUSE_LINE_CHARS = 300
# a log line that tells an error: a logged ERROR/CRITICAL, the last line of a traceback
# ("ValueError: ...", "mlrt_iac...ModelLoadError: ..."), the server's "Error: ..." on exit
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?\s+")
_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|^Error\b|^[\w.]*(Error|Exception|Exit|Interrupt)\b.*:")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _healthy(endpoint: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop_pids(refs: list[ProcessRef], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM each instance's process group, then SIGKILL what is left after `timeout` (only
    processes verified to be the instances this service started: see `providers.kit.processes`)."""
    stop_groups(refs, timeout)


def failure_cause(logs: Sequence[Path]) -> str:
    """The last error lines of the instances' logs (CAUSE_LINES at most, without their
    timestamps, a repeated one once with its count, each shortened), or the last lines when none
    reads as an error; "" when there is no log."""
    errors: dict[str, int] = {}  # message -> times, in the order of their last occurrence
    tail: list[str] = []
    for log in logs:
        try:
            with open(log, "rb") as f:
                f.seek(max(0, os.path.getsize(log) - 64 * 1024))
                text = [_TIMESTAMP.sub("", t) for t in f.read().decode(errors="replace").splitlines()]
        except OSError:
            continue
        tail = [t for t in text if t.strip()][-CAUSE_LINES:]
        for line in text:
            if _ERROR_LINE.search(line):
                errors[line] = errors.pop(line, 0) + 1
    chosen = [f"{t} ({n} times)" if n > 1 else t for t, n in errors.items()][-CAUSE_LINES:] or tail
    return "\n".join(t if len(t) <= CAUSE_LINE_CHARS else t[: CAUSE_LINE_CHARS - 3] + "..." for t in chosen)


class ServiceHandler(LocalHandler):
    type_name: ClassVar[str] = "service"
    computed: ClassVar[tuple[str, ...]] = COMPUTED

    def _dir(self, ctx: ProviderContext, name: str) -> Path:
        return ctx.data_dir / "services" / name

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        return name_as_id(ctx, desired)

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = service_diff(prior, desired, COMPUTED, REPLACE)
        return service_image.image_diff(ctx, result, prior, desired, self.lp.base_image)

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        return {
            **planned_status(desired, prior),
            **service_image.planned_image(ctx, prior, desired, self.lp.base_image),
        }

    def plan_checks(self, ctx: ProviderContext, desired: Attributes) -> list[Finding]:
        """pip_requirements parse; an image build reaches the package index only through the
        service's build_external_access_integration."""
        out = requirement_findings(desired)
        if not out and service_image.repository(ctx, desired) is not None:
            out.extend(
                egress_findings(
                    ctx, desired, "build_external_access_integration", f"The image build of {ctx.address}"
                )
            )
        return out

    # -- processes -------------------------------------------------------------------------
    def _start(
        self, ctx: ProviderContext, name: str, desired: Attributes, port: int, generation: int
    ) -> list[ProcessRef]:
        d = self._dir(ctx, name)
        d.mkdir(parents=True, exist_ok=True)
        model = str(desired["model"])
        if not os.path.isabs(model):
            model = str((ctx.project_dir / model).resolve())
        if not (Path(model) / "metadata.json").exists():
            raise PermanentError(
                f"No model at {model}",
                "The service's model must be a training's model_uri "
                "or a directory with metadata.json and the model file.",
            )
        workers = int(filled(desired, "num_workers", ctx.address))
        cmd = [
            sys.executable,
            "-m",
            "mlrt_iac.runtime.serving",
            "--model-uri",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--max-queue",
            str(int(filled(desired, "max_queue", ctx.address))),
        ]
        if desired.get("max_batch_rows"):  # rows per model call: a larger request is cut
            cmd += ["--max-batch-rows", str(int(desired["max_batch_rows"]))]
        if desired.get("max_request_bytes"):  # bytes per request body: 413 beyond
            cmd += ["--max-body-bytes", str(int(desired["max_request_bytes"]))]
        cmd += ["--functions", ",".join(filled(desired, "functions", ctx.address))]
        if desired.get("model_class"):
            # the project's own code makes the model: imported from the project directory
            cmd += ["--model-class", str(desired["model_class"]), "--project-dir", str(ctx.project_dir)]
        pids = []
        for i in range(int(filled(desired, "max_instances", ctx.address))):
            log = open(d / f"instance-{generation}-{i}.log", "ab")
            ready = d / f"ready-{generation}-{i}.json"
            ready.unlink(missing_ok=True)
            proc = subprocess.Popen(
                cmd + ["--instance-id", f"{generation}-{i}", "--ready-file", str(ready)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(ctx.project_dir),
                start_new_session=True,
            )
            log.close()
            pids.append(ProcessRef.of(proc.pid))
        return pids

    def _wait_ready(
        self, ctx: ProviderContext, name: str, endpoint: str, pids: list[ProcessRef], generation: int
    ) -> None:
        """Ready when every instance of this generation wrote its ready file (all its workers
        loaded the model) and the shared port answers /health; within READY_TIMEOUT, or the
        operation's deadline when that comes first (then DeadlineExceeded)."""
        binds = deadline_binds(ctx, READY_TIMEOUT)
        started = time.monotonic()
        deadline = started + seconds_left(ctx, READY_TIMEOUT)
        ready_files = [self._dir(ctx, name) / f"ready-{generation}-{i}.json" for i in range(len(pids))]
        while time.monotonic() < deadline:
            dead = [p for p in pids if not p.alive()]
            if dead:
                raise PermanentError(
                    f"The inference server of {ctx.address} exited during start-up", self._log_tail(ctx, name)
                )
            if all(f.exists() for f in ready_files) and _healthy(endpoint):
                return
            if ctx.cancel.is_set():
                raise PermanentError("cancelled while waiting for the service to become ready")
            ctx.progress(f"waiting for {endpoint}/health [{time.monotonic() - started:.0f}s]")
            time.sleep(0.1)
        if binds:
            raise exceeded(ctx, f"{endpoint}/health of {ctx.address}", self._log_tail(ctx, name))
        raise PermanentError(
            f"{ctx.address} did not become ready within {READY_TIMEOUT:.0f}s", self._log_tail(ctx, name)
        )

    def _log_tail(self, ctx: ProviderContext, name: str) -> str:
        logs = sorted(self._dir(ctx, name).glob("instance-*.log"), key=lambda p: p.stat().st_mtime)
        if not logs:
            return ""
        lines = logs[-1].read_text(errors="replace").splitlines()[-20:]
        return f"Last lines of {logs[-1]}:\n" + "\n".join(lines)

    def _attrs(
        self, desired: Attributes, endpoint: str | None, status: str, image: str | None = None
    ) -> Attributes:
        urls = {f: f"{endpoint}/{f}" for f in desired.get("functions") or ["predict"]} if endpoint else {}
        return {
            "endpoint": endpoint,
            "functions_urls": urls,
            "status": status,
            "status_message": None,
            "image": image,
        }

    def _record(
        self, ctx: ProviderContext, name: str, port: int, pids: list[ProcessRef], generation: int
    ) -> None:
        atomic_write_json(
            self._dir(ctx, name) / "processes.json",
            {"port": port, "pids": [p.to_json() for p in pids], "generation": generation},
        )

    def _processes(self, ctx: ProviderContext, name: str) -> dict[str, Any]:
        data = read_json(self._dir(ctx, name) / "processes.json")
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _refs(procs: dict[str, Any]) -> list[ProcessRef]:
        """The recorded instances (entries that are not a process are dropped)."""
        refs = [ProcessRef.from_json(p) for p in procs.get("pids") or []]
        return [r for r in refs if r is not None]

    @staticmethod
    def _use(ctx: ProviderContext, name: str, *attrs: Attributes) -> None:
        """Record the models of `attrs` as served by this service (none: release them)."""
        models.record_use(
            ctx.data_dir, f"local-{name}", [models.model_path(ctx.project_dir, a.get("model")) for a in attrs]
        )

    # -- its pool ----------------------------------------------------------------------------
    def _claim_pool(self, ctx: ProviderContext, name: str, desired: Attributes) -> None:
        """Resume the pool if needed (auto_resume) and record what a pool resume restarts."""
        from .compute_pool import ComputePoolHandler

        pools = self.lp.handler("compute_pool")
        assert isinstance(pools, ComputePoolHandler)
        pools.claim(ctx, pool_name(ctx, desired))
        record_spec(ctx, self._dir(ctx, name), desired)

    def stop_for_pool(self, ctx: ProviderContext, name: str) -> None:
        """Its pool is being suspended: stop the instances, keep port and generation."""
        procs = self._processes(ctx, name)
        refs = self._refs(procs)
        if not refs:
            return
        stop_pids(refs)
        mark(self._dir(ctx, name), True, [])

    def start_for_pool(self, ctx: ProviderContext, name: str, desired: Attributes) -> None:
        """Its pool resumed: start the instances again on the same port, ready on return."""
        procs = self._processes(ctx, name)
        port = int(procs.get("port") or 0) or free_port()
        generation = int(procs.get("generation") or 0) + 1
        pids = self._start(ctx, name, desired, port, generation)
        self._record(ctx, name, port, pids, generation)
        try:
            self._wait_ready(ctx, name, f"http://127.0.0.1:{port}", pids, generation)
        except BaseException:
            stop_pids(pids, timeout=5)
            self._record(ctx, name, port, [], generation)
            mark(self._dir(ctx, name), True)
            raise

    # -- protocol --------------------------------------------------------------------------
    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        name = file_safe_name(ctx, desired)
        # The image first: a build that fails leaves nothing running (and nothing in the layout).
        image, private = service_image.build(ctx, desired, self.lp.base_image)
        leftover = self._processes(ctx, name)
        if leftover.get("pids"):
            stop_pids(self._refs(leftover))
        if desired.get("suspended"):
            self._record(ctx, name, 0, [], 0)
            self._use(ctx, name, desired)  # it resumes on this model
            return CreateResult(name, self._attrs(desired, None, "SUSPENDED", image), private)
        self._claim_pool(ctx, name, desired)
        port = int(leftover.get("port") or 0) or free_port()
        generation = int(leftover.get("generation") or 0) + 1
        endpoint = f"http://127.0.0.1:{port}"
        self._use(ctx, name, desired)
        try:
            pids = self._start(ctx, name, desired, port, generation)
        except BaseException:
            self._use(ctx, name)
            raise
        self._record(ctx, name, port, pids, generation)
        try:
            self._wait_ready(ctx, name, endpoint, pids, generation)
        except BaseException:
            stop_pids(pids, timeout=5)
            self._record(ctx, name, port, [], generation)
            self._use(ctx, name)
            raise
        return CreateResult(name, self._attrs(desired, endpoint, "READY", image), private)

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        return self._read(ctx, id, prior, ProcessRef.alive)

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """One scan of the services folder and one read of the process table for all of them;
        each listed service's record is parsed and its endpoint asked for /health."""
        table = process_table()

        def alive(ref: ProcessRef) -> bool:  # absent from the table: gone without a closer look
            return ref.pid in table and ref.alive()

        def one(c: ProviderContext, id: str, prior: Attributes) -> ReadResult:
            return self._read(c, id, prior, alive)

        return read_by_scan(one, requests, lambda req: self._dir(req.ctx, req.id))

    def _read(
        self, ctx: ProviderContext, id: str, prior: Attributes, alive: Callable[[ProcessRef], bool]
    ) -> ReadResult:
        procs = self._processes(ctx, id)
        if not procs and not self._dir(ctx, id).exists():
            return ReadResult(None)
        if prior.get("suspended"):
            return ReadResult(dict(prior))
        if stopped_by_pool(self._dir(ctx, id)):  # its pool is suspended: not gone
            return ReadResult({**prior, "status": "SUSPENDED"})
        pids = self._refs(procs)
        endpoint = prior.get("endpoint")
        dead = [i for i, p in enumerate(pids) if not alive(p)]
        if pids and not dead and endpoint and _healthy(str(endpoint)):
            return ReadResult({**prior, "status": "READY", "status_message": None})
        # Stopped on its own (or not answering): FAILED with the cause; the plan restarts it.
        generation = int(procs.get("generation") or 0)
        if not pids:
            what = "No instance of the service is running"
        elif dead:
            what = f"{len(dead)} of {len(pids)} instance{'s' if len(pids) != 1 else ''} stopped"
        else:
            what = f"The instances run but {endpoint}/health does not answer"
        logs = [self._dir(ctx, id) / f"instance-{generation}-{i}.log" for i in (dead or range(len(pids)))]
        cause = failure_cause(logs)
        message = f"{what}; last errors in its log:\n{cause}" if cause else f"{what} (nothing in its log)."
        return ReadResult({**prior, "status": FAILED, "status_message": message})

    def import_(self, ctx: ProviderContext, id: str) -> ReadResult:
        """A running service of this project (`mlrt import service.x NAME`): its instances must
        be alive and its port must answer /health; the endpoint comes from its record."""
        procs = self._processes(ctx, id)
        pids = self._refs(procs)
        port = int(procs.get("port") or 0)
        endpoint = f"http://127.0.0.1:{port}"
        if not pids or not port or not all(p.alive() for p in pids) or not _healthy(endpoint):
            return ReadResult(None)
        return ReadResult({"name": id, **self._attrs({}, endpoint, "READY")})

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        image, built = service_image.build(ctx, desired, self.lp.base_image)
        private = {**ctx.private, **built}
        procs = self._processes(ctx, id)
        old = self._refs(procs)
        if desired.get("suspended"):
            stop_pids(old)
            self._record(ctx, id, int(procs.get("port") or 0), [], int(procs.get("generation") or 0))
            self._use(ctx, id, desired)  # it resumes on this model
            return UpdateResult(self._attrs(desired, prior.get("endpoint"), "SUSPENDED", image), private)
        self._claim_pool(ctx, id, desired)
        procs = self._processes(ctx, id)  # a pool resume may have started it again
        old = self._refs(procs)
        port = int(procs.get("port") or 0) or free_port()
        generation = int(procs.get("generation") or 0) + 1
        endpoint = f"http://127.0.0.1:{port}"
        # Rolling: the new generation joins the port, becomes healthy, then the old one leaves.
        # Both models are in use meanwhile.
        self._use(ctx, id, prior, desired)
        try:
            new = self._start(ctx, id, desired, port, generation)
        except BaseException:
            self._use(ctx, id, prior)
            raise
        self._record(ctx, id, port, old + new, generation)
        try:
            self._wait_ready(ctx, id, endpoint, new, generation)
        except BaseException:
            stop_pids(new, timeout=5)
            self._record(ctx, id, port, old, generation)
            self._use(ctx, id, prior)
            raise
        stop_pids(old)
        self._record(ctx, id, port, new, generation)
        self._use(ctx, id, desired)
        return UpdateResult(self._attrs(desired, endpoint, "READY", image), private)

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        procs = self._processes(ctx, id)
        stop_pids(self._refs(procs))
        self._use(ctx, id)
        d = self._dir(ctx, id)
        if d.exists():
            for f in d.iterdir():
                f.unlink()
            d.rmdir()

    def logs(
        self, ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
    ) -> Iterator[LogLine]:
        """`mlrt logs` (see providers/local/logs.py)."""
        return service_logs(ctx, id, attributes, query)
