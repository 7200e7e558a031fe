"""uvicorn's httptools HTTP/1.1 protocol with the limits it lacks, answered in JSON, never a reset.

uvicorn bounds neither a request head (httptools buffers a 60 MB header line whole) nor the time a
client may take to send its request: a connection that never sends, or sends a byte now and then,
is held for ever. And when an answer comes before the request body has all arrived (a 413, a 503)
on a connection that is to close (``Connection: close``, HTTP/1.0, or the server's choice), it
closes the socket with the body's rest unread, so the kernel resets the connection and the
client, still sending, sees a reset instead of the answer. This protocol adds:

* a head limit: a request line plus headers over ``max_head_bytes`` is a 431, counted as the
  bytes arrive (before httptools buffers them);
* a read deadline: a request's head and body must arrive within ``request_timeout_s`` of its
  first byte (the deadline travels to the app in ``scope[DEADLINE_KEY]``, None once the body is
  all here; the app answers 408 when the body is late, this protocol when the head is); a new
  connection that sends nothing in that time is closed;
* a lingering close: closing while a request's rest is still on its way first reads and
  discards it (until the client closes, or the request's deadline, at least GRACE_S), so the
  answer already sent reaches the client;
* a keep-alive expiry that resets nothing: uvicorn closes an idle connection when its keep-alive
  timer fires, even if a request has meanwhile arrived unread (the event loop was busy predicting
  a batch when it came); closing a socket with unread bytes resets it, and the client sees a reset
  instead of its answer. An idle connection with bytes waiting stays open; they are read next;
* a drain for a worker that stops (see ``worker.py``): from ``start_draining()`` on, every answer
  carries ``Connection: close`` and the connection closes after it, while a connection that is idle
  stays open, so that a keep-alive client's next request is answered instead of reset; at the end
  of the drain window uvicorn's ``shutdown()`` closes an idle connection only when nothing waits
  unread on it (a request already there is read and answered, with ``Connection: close``);
* JSON for uvicorn's own answers: 400 for unparsable HTTP and 503 beyond ``limit_concurrency``.
"""

from __future__ import annotations

import asyncio
import select
from typing import Any

from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mlrt_iac.runtime.serving import jsoncodec
from mlrt_iac.runtime.serving.config import DEADLINE_KEY
from mlrt_iac.runtime.serving.errors import RequestError

GRACE_S = 1.0
# Set on uvicorn's ServerState (shared by a worker's connections) once the worker drains, so that a
# connection accepted a moment before the drain began drains too.
DRAINING_ATTR = "mlrt_draining"
REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def raw_answer(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 answer with a JSON error body that closes the connection."""
    body = jsoncodec.dumps(RequestError(status, message).to_json())
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    )
    return head % (status, REASONS.get(status, b""), len(body)) + body


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """uvicorn's answer beyond limit_concurrency, in JSON."""
    body = jsoncodec.dumps(
        RequestError(
            503, "The server has too many open connections; retry after the delay in Retry-After."
        ).to_json()
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", b"1"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Transport:
    """The connection's transport as uvicorn sees it: ``close()`` is the protocol's lingering close."""

    __slots__ = ("_protocol", "_transport", "is_closing", "write")

    def __init__(self, transport: asyncio.Transport, protocol: LimitedHttpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        # the transport's own methods, bound once: called for every answer, so no wrapper frame
        self.write = transport.write
        self.is_closing = transport.is_closing

    def close(self) -> None:
        self._protocol.close_gracefully()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LimitedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a head limit, a read deadline and a lingering close (see the module)."""

    max_head_bytes = 16 * 1024
    request_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._raw: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._in_message = False  # from a request's first byte to the end of its body
        self._in_head = True  # before the current request's head is complete
        self._head_bytes = 0
        self._graced = False
        self._lingering = False
        self._lost = False
        self._draining = False
        self._drain_cycle: Any = None  # the cycle this drain made the connection's last one

    @classmethod
    def with_limits(cls, max_head_bytes: int, request_timeout_s: float) -> type[LimitedHttpProtocol]:
        return type(
            "LimitedHttpProtocol",
            (cls,),
            {"max_head_bytes": max_head_bytes, "request_timeout_s": request_timeout_s},
        )

    # --- connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._raw = transport
        self.transport = _Transport(transport, self)  # type: ignore[assignment]
        self._deadline = self.loop.time() + self.request_timeout_s
        self._arm(self.request_timeout_s, self._on_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is sent; what still comes is read only to be dropped
        if self._in_head:
            room = self.max_head_bytes - self._head_bytes
            if len(data) > room:
                # feed the head's allowance; if the head is still not complete, it is too large
                self._head_bytes = self.max_head_bytes
                super().data_received(data[:room])
                if self._in_head and not self._lingering and not self._lost:
                    self._refuse(
                        431,
                        f"The request line and headers are larger than {self.max_head_bytes} bytes.",
                    )
                    return
                if not self._lingering and not self._lost:
                    self.data_received(data[room:])
                return
            self._head_bytes += len(data)
        super().data_received(data)

    # --- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_message = True
        self._graced = False
        self._deadline = self.loop.time() + self.request_timeout_s
        self.scope[DEADLINE_KEY] = self._deadline  # type: ignore[literal-required]
        self._arm(self.request_timeout_s, self._on_deadline)

    def on_headers_complete(self) -> None:
        self._in_head = False
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous and (self._draining or self._server_draining()):
            self._draining = True
            self._close_after(self.cycle, previous)

    def on_message_complete(self) -> None:
        self.scope[DEADLINE_KEY] = None  # type: ignore[literal-required]  # the body is all here
        self._in_message = False
        self._in_head = True
        self._head_bytes = 0
        self._cancel()
        super().on_message_complete()

    def timeout_keep_alive_handler(self) -> None:
        """The keep-alive timer fired: close the idle connection, unless a request is waiting."""
        self.timeout_keep_alive_task = None
        if self._bytes_waiting():
            return  # data_received comes next; the answer re-arms the keep-alive timer
        super().timeout_keep_alive_handler()

    def _bytes_waiting(self) -> bool:
        """Whether the socket has something unread (bytes, or the client's close)."""
        raw = self._raw
        sock = None if raw is None else raw.get_extra_info("socket")
        if sock is None or self._lost:
            return False
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    # --- drain ------------------------------------------------------------------------------
    def _server_draining(self) -> bool:
        return bool(getattr(self.server_state, DRAINING_ATTR, False))

    def is_idle(self) -> bool:
        """No request on this connection is being read, waits, runs or is being answered."""
        if self._in_message or self.pipeline:
            return False
        return self.cycle is None or bool(self.cycle.response_complete)

    def start_draining(self) -> None:
        """The worker stops: the answer to this connection's last request closes the connection.

        The request in progress (or the last one pipelined behind it) is answered with
        ``Connection: close``; an idle connection stays open, and its next request is answered so.
        An answer already begun (its head sent without ``Connection: close``) leaves the connection
        idle after it, and so open for the client's next request.
        """
        if self._draining:
            return
        self._draining = True
        newest = self.pipeline[0][0] if self.pipeline else self.cycle
        if newest is not None and not newest.response_started:
            self._close_after(newest, None)

    def _close_after(self, cycle: Any, previous: Any) -> None:
        """Make ``cycle`` the connection's last: its answer says ``Connection: close``.

        A request pipelined behind one the drain had made the last takes that role over, so that
        closing after the earlier answer does not drop it (unless that answer has begun already).
        """
        if previous is not None and previous is self._drain_cycle and not previous.response_started:
            previous.keep_alive = True
        # a request that asked to close itself stays the last whatever follows it
        self._drain_cycle = cycle if cycle.keep_alive else None
        cycle.keep_alive = False

    def shutdown(self) -> None:
        """uvicorn's graceful stop (the end of the drain window): close the connection if it is idle
        and nothing waits unread on it; otherwise its answer closes it.

        Closing with a request unread would reset it: that request is read and answered (with
        ``Connection: close``) instead. What the kernel has not yet received when the connection
        closes (a request still on the wire) no server can answer; the client sees the close.
        """
        self.start_draining()
        if self.is_idle() and not self._bytes_waiting():
            self._unset_keepalive_if_required()
            self.transport.close()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        super()._start_asgi_task(cycle, _busy if app is service_unavailable else app)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP: in JSON, and without a reset."""
        self._refuse(400, "The request is not valid HTTP/1.1.")

    # --- deadline and close -----------------------------------------------------------------
    def _arm(self, delay: float, callback: Any) -> None:
        self._cancel()
        self._timer = self.loop.call_later(delay, callback)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_deadline(self) -> None:
        self._timer = None
        if self._lost or self._raw is None or self._raw.is_closing():
            return
        if not self._in_message:  # a new connection that sent nothing
            self._raw.close()
        elif self._in_head:
            self._refuse(408, f"The request head did not arrive within {self.request_timeout_s:g} s.")
        elif self.cycle is not None and not self.cycle.response_started and not self._graced:
            # the app answers a late body with 408 at this same deadline: give it a moment
            self._graced = True
            self._arm(GRACE_S, self._on_deadline)
        else:  # the answer went out early (413, 503) and the body is still not all here
            self._raw.close()

    def _refuse(self, status: int, message: str) -> None:
        assert self._raw is not None
        self._raw.write(raw_answer(status, message))
        self.close_gracefully()

    def close_gracefully(self) -> None:
        """Close, but first let the rest of a request still on its way arrive (and drop it):
        closing with unread bytes makes the kernel reset the connection, and a client still
        sending would see the reset instead of the answer. Bounded by the request's deadline."""
        raw = self._raw
        if raw is None or self._lost or raw.is_closing():
            if raw is not None and not raw.is_closing():
                raw.close()
            return
        if not self._in_message:
            raw.close()
            return
        if self._lingering:
            return
        self._lingering = True
        self.flow.resume_reading()
        self._arm(max(GRACE_S, self._deadline - self.loop.time()), raw.close)
