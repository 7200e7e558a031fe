"""The ASGI application of one worker: health, metrics and one POST route per model function.

A raw ASGI callable (no framework routing): the routes are fixed and this is the hot path.
Each worker runs one prediction at a time on its own prediction thread, so its event loop stays free
to answer health checks and to refuse work at once (503 + Retry-After) when the instance's queue
is full. Parsing, prediction and encoding all run on that thread.

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
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlrt_iac.runtime.serving import jsoncodec
from mlrt_iac.runtime.serving.config import DEADLINE_KEY, ServeConfig
from mlrt_iac.runtime.serving.errors import RequestError
from mlrt_iac.runtime.serving.model import LoadedModel, PredictFn
from mlrt_iac.runtime.serving.parsing import encode_response, parse_request
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


class _Ticket:
    """Whether a request still holds one of the instance's waiting slots."""

    __slots__ = ("held",)

    def __init__(self, held: bool) -> None:
        self.held = held


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
        ticket = _Ticket(False)
        if self.inflight > 0:
            if not self.shared.try_enqueue(self.worker):
                await self._busy(send, name, index, started, self.busy_body)
                return
            ticket.held = True
        self.inflight += 1
        self._publish_inflight()
        try:
            loop = asyncio.get_running_loop()
            status, payload = await loop.run_in_executor(self.executor, self._work, body, fn, ticket)
            await _respond(send, status, payload, JSON_HEADERS)
            self.shared.record(
                self.worker, self.endpoint_index[name], status, time.perf_counter() - started, index
            )
        finally:
            if ticket.held:
                ticket.held = False
                self.shared.dequeue(self.worker)
            self.inflight -= 1
            self._publish_inflight()

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

    def _work(self, body: bytes, fn: PredictFn, ticket: _Ticket) -> tuple[int, bytes]:
        """On the prediction thread: parse, predict the whole batch in one call, encode."""
        if ticket.held:
            ticket.held = False
            self.shared.dequeue(self.worker)
        try:
            parsed = parse_request(
                body, self.model.input_cols, self.model.input_dtype, self.config.max_batch_rows
            )
        except RequestError as bad:
            return bad.status, jsoncodec.dumps(bad.to_json())
        if not parsed.row_indexes:
            return 200, b'{"data":[]}'
        try:
            results = fn(parsed.features)
        except Exception as exc:  # a model failure answers 500 and leaves the worker serving
            LOG.exception("prediction failed")
            failed = RequestError(500, f"The model failed to predict: {exc}")
            return 500, jsoncodec.dumps(failed.to_json())
        return 200, encode_response(parsed.row_indexes, results)


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
