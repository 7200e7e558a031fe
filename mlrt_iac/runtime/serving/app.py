"""The ASGI application of one worker: health, metrics and one POST route per model function.

A raw ASGI callable (no framework routing): the routes are fixed and this is the hot path.
Each worker answers its requests in batches, one batch at a time: every request whose body has
arrived while the worker was busy joins the next batch, whose requests of one function are merged
into one prediction call (``batch.py``; ``batch_rows`` rows at most), and a request of more than
``max_batch_rows`` rows is cut into several calls answered as one. A batch of up to BATCH_BYTES
of bodies is parsed, predicted and encoded right on the event loop (no hand-off to a thread and
back); a single larger request goes to the worker's prediction thread, so the event loop stays free
to answer health checks and to refuse work at once (503 + Retry-After) meanwhile. Requests that
wait for the batch in progress (or about to start) hold one of the instance's ``max_queue`` slots.

A request takes a waiting slot only once its whole body has arrived: a slow or stalled client
(slowloris) holds its connection, never a slot, and its body must arrive by the request's deadline
(``request_timeout_s`` after its first byte) or it gets a 408 and the connection closes. The bodies
a worker holds (being read, waiting, being parsed) stay under ``max_buffered_bytes`` (503 beyond).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlrt_iac.runtime.serving import jsoncodec
from mlrt_iac.runtime.serving.batch import Answer, BatchSpec, answer_batch
from mlrt_iac.runtime.serving.config import BATCH_BYTES, DEADLINE_KEY, ServeConfig
from mlrt_iac.runtime.serving.errors import RequestError
from mlrt_iac.runtime.serving.model import LoadedModel, PredictFn
from mlrt_iac.runtime.serving.prometheus import CONTENT_TYPE, render_metrics
from mlrt_iac.runtime.serving.shared import SharedState

LOG = logging.getLogger("mlrt.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
BUSY_HEADERS = JSON_HEADERS + [(b"retry-after", b"1")]


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


class BuffersFull(Exception):
    """Reading on would take the worker's request bodies past max_buffered_bytes."""


class _Held:
    """Bytes of request bodies a request holds in its worker's memory."""

    __slots__ = ("bytes",)

    def __init__(self, n: int) -> None:
        self.bytes = n


class _Job:
    """A request whose body has arrived, waiting for (or in) a batch."""

    __slots__ = ("body", "fn", "future", "slot")

    def __init__(self, body: bytes, fn: PredictFn, future: asyncio.Future[Answer], slot: bool) -> None:
        self.body = body
        self.fn = fn
        self.future = future
        self.slot = slot  # whether it still holds one of the instance's waiting slots


class ServingApp:
    """The worker's ASGI app; ``worker`` is its row in the instance's shared state."""

    def __init__(self, model: LoadedModel, config: ServeConfig, shared: SharedState, worker: int) -> None:
        self.model = model
        self.config = config
        self.shared = shared
        self.worker = worker
        known = shared.layout.functions
        self.functions: dict[str, tuple[int, PredictFn]] = {
            name: (known.index(name), fn) for name, fn in model.functions.items()
        }
        self.endpoint_index = {name: i for i, name in enumerate(shared.layout.endpoints)}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlrt-predict")
        self.spec = BatchSpec(
            model.input_cols,
            model.input_dtype,
            config.max_request_rows,
            config.batch_rows,
            model.column_kinds,
            config.max_batch_rows,
        )
        self.pending: deque[_Job] = deque()  # admitted requests waiting for the next batch
        self.running = False  # a batch is on the prediction thread
        self.flush_scheduled = False
        self.inflight = 0  # requests admitted (their body read) and not yet answered
        self.receiving = 0  # requests whose body is being read
        self.buffered = 0  # bytes of the request bodies this worker holds (read or being read)
        self.busy_body = jsoncodec.dumps(
            RequestError(
                503,
                f"The service is at capacity ({config.max_queue} requests waiting); retry after "
                "the delay in Retry-After.",
            ).to_json()
        )  # encoded once: refusals must be cheap
        self.buffers_full_body = jsoncodec.dumps(
            RequestError(
                503,
                f"The service is reading too many request bodies at once (more than "
                f"{config.body_budget} bytes); retry after the delay in Retry-After.",
            ).to_json()
        )
        self.health_body = jsoncodec.dumps(
            {
                "status": "ok",
                "model": model.uri,
                "instance": config.instance_id,
                "framework": model.framework,
                "functions": list(model.functions),
                "input_cols": model.input_cols,
                "workers": config.workers,
                "pid": os.getpid(),
            }
        )

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/health":
            await self._simple(send, "health", method, 200, self.health_body, JSON_HEADERS)
        elif path == "/metrics":
            body = render_metrics(
                self.shared,
                self.config.instance_id,
                self.config.max_queue,
                self.config.workers,
                tuple(self.functions),
            )
            await self._simple(send, "metrics", method, 200, body, [(b"content-type", CONTENT_TYPE.encode())])
        else:
            entry = self.functions.get(path[1:])
            if entry is None:
                err = RequestError(
                    404,
                    f"No function at {path}; this service offers "
                    f"{', '.join('/' + f for f in self.functions)}.",
                )
                await self._error(send, "other", err, None, None)
            elif method != "POST":
                err = RequestError(405, f"{path} takes POST with a JSON body, not {method}.")
                await self._error(send, path[1:], err, None, None, [(b"allow", b"POST")])
            else:
                await self._predict(scope, receive, send, path[1:], entry[0], entry[1])

    async def _simple(
        self,
        send: Send,
        endpoint: str,
        method: str,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        if method not in ("GET", "HEAD"):
            err = RequestError(405, f"/{endpoint} takes GET, not {method}.")
            await self._error(send, endpoint, err, None, None, [(b"allow", b"GET")])
            return
        await _respond(send, status, body, headers)
        self.shared.record(self.worker, self.endpoint_index[endpoint], status, None, None)

    async def _error(
        self,
        send: Send,
        endpoint: str,
        err: RequestError,
        started: float | None,
        function: int | None,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        await _respond(send, err.status, jsoncodec.dumps(err.to_json()), JSON_HEADERS + (extra or []))
        seconds = None if started is None else time.perf_counter() - started
        self.shared.record(self.worker, self.endpoint_index[endpoint], err.status, seconds, function)

    async def _predict(
        self, scope: Scope, receive: Receive, send: Send, name: str, index: int, fn: PredictFn
    ) -> None:
        started = time.perf_counter()
        limit = self.config.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            err = RequestError(
                413,
                f"The body has {declared} bytes; this service takes at most "
                f"{limit}. Send fewer rows per request.",
            )
            await self._error(send, name, err, started, index)
            return
        # A full queue refuses at once, before the body is read. Nothing is held while a body is
        # on its way: a request takes its place in the queue only once its body is all here, so
        # clients that send slowly (or never finish) cannot keep others out.
        if self.inflight > 0 and self.shared.queued() >= self.config.max_queue:
            await self._busy(send, name, index, started, self.busy_body)
            return
        held = _Held(declared or 0)  # bytes of request bodies this worker holds, for this request
        if self.buffered + held.bytes > self.config.body_budget:
            await self._busy(send, name, index, started, self.buffers_full_body)
            return
        self.buffered += held.bytes
        try:
            try:
                if scope.get(DEADLINE_KEY, 0.0) is None:  # the body is all here: nothing to wait for
                    body = await self._receive_body(receive, limit, held)
                else:
                    body = await self._read_body(scope, receive, limit, held)
            except RequestError as err:
                extra = [(b"connection", b"close")] if err.status == 408 else None
                await self._error(send, name, err, started, index, extra)
                return
            except BuffersFull:
                await self._busy(send, name, index, started, self.buffers_full_body)
                return
            except ClientGone:
                return
            await self._admit_and_run(send, name, index, fn, body, started)
        finally:
            self.buffered -= held.bytes

    async def _admit_and_run(
        self, send: Send, name: str, index: int, fn: PredictFn, body: bytes, started: float
    ) -> None:
        # admission: the first request of an idle worker runs; the others need a waiting slot
        # until the batch they join starts
        slot = False
        if self.inflight > 0:
            if not self.shared.try_enqueue(self.worker):
                await self._busy(send, name, index, started, self.busy_body)
                return
            slot = True
        self.inflight += 1
        self._publish_inflight()
        loop = asyncio.get_running_loop()
        job = _Job(body, fn, loop.create_future(), slot)
        self.pending.append(job)
        self._schedule(loop)
        try:
            status, payload = await job.future
            await _respond(send, status, payload, JSON_HEADERS)
            self.shared.record(
                self.worker, self.endpoint_index[name], status, time.perf_counter() - started, index
            )
        finally:
            if job.slot:  # cancelled before its batch started
                job.slot = False
                self.shared.dequeue(self.worker)
            self.inflight -= 1
            self._publish_inflight()

    # --- batches ---------------------------------------------------------------------------
    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Answer the waiting requests once the loop has taken in what has arrived (call_soon runs
        after the requests already read in this pass have joined ``pending``)."""
        if not self.running and not self.flush_scheduled:
            self.flush_scheduled = True
            loop.call_soon(self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Take the waiting requests (up to BATCH_BYTES of bodies) and answer them as one batch:
        on the event loop, or a single larger request on the prediction thread."""
        self.flush_scheduled = False
        if self.running:
            return
        jobs: list[_Job] = []
        size = 0
        while self.pending:
            job = self.pending[0]
            if job.future.done():  # cancelled while waiting
                self.pending.popleft()
                continue
            if jobs and size + len(job.body) > BATCH_BYTES:
                break
            self.pending.popleft()
            jobs.append(job)
            size += len(job.body)
        if not jobs:
            return
        slots = 0
        for job in jobs:
            if job.slot:
                job.slot = False
                slots += 1
        if slots:
            self.shared.dequeue(self.worker, slots)
        requests = [(job.body, job.fn) for job in jobs]
        if size <= BATCH_BYTES:
            self._deliver(jobs, self._answer(requests))
            if self.pending:
                self._schedule(loop)
            return
        self.running = True
        work = loop.run_in_executor(self.executor, self._answer, requests)
        work.add_done_callback(lambda done: self._finished(loop, jobs, done))

    def _finished(
        self, loop: asyncio.AbstractEventLoop, jobs: list[_Job], done: asyncio.Future[list[Answer]]
    ) -> None:
        self.running = False
        if done.cancelled() or done.exception() is not None:
            self._deliver(jobs, [self._internal_error()] * len(jobs))
        else:
            self._deliver(jobs, done.result())
        if self.pending:
            self._schedule(loop)

    @staticmethod
    def _deliver(jobs: list[_Job], answers: list[Answer]) -> None:
        for job, answer in zip(jobs, answers):
            if not job.future.done():
                job.future.set_result(answer)

    def _answer(self, requests: list[tuple[bytes, PredictFn]]) -> list[Answer]:
        """Parse, predict (merged) and encode a batch; never raises."""
        try:
            return answer_batch(requests, self.spec)
        except Exception:
            LOG.exception("answering a batch failed")
            return [self._internal_error()] * len(requests)

    @staticmethod
    def _internal_error() -> Answer:
        return 500, jsoncodec.dumps(RequestError(500, "The server failed to answer the request.").to_json())

    def _publish_inflight(self) -> None:
        """The in-flight gauge: requests whose body is being read, waiting or running."""
        self.shared.set_inflight(self.worker, self.inflight + self.receiving)

    async def _busy(self, send: Send, name: str, index: int, started: float, body: bytes) -> None:
        self.shared.record_rejection(self.worker, index)
        await _respond(send, 503, body, BUSY_HEADERS)
        self.shared.record(self.worker, self.endpoint_index[name], 503, time.perf_counter() - started, index)

    async def _read_body(self, scope: Scope, receive: Receive, limit: int, held: _Held) -> bytes:
        """The whole body, by the request's deadline (408), within ``limit`` (413) and the
        worker's max_buffered_bytes (BuffersFull: a 503)."""
        loop = asyncio.get_running_loop()
        deadline = scope.get(DEADLINE_KEY)
        if deadline is None:  # a server without our protocol: the deadline starts now
            deadline = loop.time() + self.config.request_timeout_s
        self.receiving += 1
        self._publish_inflight()
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout_at(deadline):
                    return await self._receive_body(receive, limit, held)
            else:  # pragma: no cover - Python 3.10
                return await asyncio.wait_for(
                    self._receive_body(receive, limit, held), max(0.0, deadline - loop.time())
                )
        except (asyncio.TimeoutError, TimeoutError):
            raise RequestError(
                408,
                f"The request body did not arrive within {self.config.request_timeout_s:g} s of "
                "the request's first byte.",
            ) from None
        finally:
            self.receiving -= 1
            self._publish_inflight()

    async def _receive_body(self, receive: Receive, limit: int, held: _Held) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(
                    413, f"The body is larger than {limit} bytes; send fewer rows per request."
                )
            if size > held.bytes:  # no Content-Length (chunked): count the bytes as they come
                grow = size - held.bytes
                if self.buffered + grow > self.config.body_budget:
                    raise BuffersFull()
                self.buffered += grow
                held.bytes = size
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers + [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
