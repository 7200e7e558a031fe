"""The attacker's side of the inference-server tests: raw HTTP/1.1 over asyncio sockets.

No HTTP library stands between the attack and the server, so what the server does is what is
counted: a status code when an answer arrives, else ``reset`` (the connection was reset while
sending or reading), ``closed`` (closed without an answer) or ``timeout``. Used by
tests/security/test_serving_abuse.py and bench/serve_abuse.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

N_FEATURES = 8
T = TypeVar("T")
STREAM_LIMIT = 1 << 20  # the client reads answer heads up to 1 MiB


@dataclass
class Answer:
    """What one request got: ``outcome`` is the status code as text, or reset/closed/timeout."""

    outcome: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def rows_body(n_rows: int, seed: int = 0) -> bytes:
    """A valid body of ``n_rows`` rows of N_FEATURES random floats."""
    x = np.random.default_rng(seed).normal(size=(n_rows, N_FEATURES))
    return json.dumps({"data": [[i, *map(float, row)] for i, row in enumerate(x)]}).encode()


def post(body: bytes, path: str = "/predict", extra_headers: bytes = b"", length: int | None = None) -> bytes:
    """The raw bytes of ``POST path`` with ``body`` (Content-Length ``length`` if given)."""
    n = len(body) if length is None else length
    return (
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {n}\r\n"
        ).encode()
        + extra_headers
        + b"\r\n"
        + body
    )


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(str(status), status, headers, body)


async def connect(port: int, sndbuf: int | None = None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to 127.0.0.1:port; ``sndbuf`` shrinks the client's send buffer, so a large
    body is still on its way while the server answers (as over a real network, where a body of a
    few hundred KB takes many round trips; on loopback the kernel would buffer it all at once)."""
    if sndbuf is None:
        return await asyncio.open_connection("127.0.0.1", port, limit=STREAM_LIMIT)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=STREAM_LIMIT)


async def _exchange(port: int, raw: bytes, sndbuf: int | None) -> Answer:
    reader, writer = await connect(port, sndbuf)
    try:
        writer.write(raw)
        # read the answer while the request is still being sent
        # (an early answer, such as a 413 or 503, may come before the whole body has been sent);
        # a reset while sending counts as a reset even when the answer arrived: a client that
        # sends the whole body before reading (most HTTP libraries) sees only the error
        drain = asyncio.ensure_future(writer.drain())
        try:
            answer = await read_answer(reader)
        except BaseException:
            drain.cancel()
            raise
        await drain
        return answer
    finally:
        writer.close()


async def request(port: int, raw: bytes, timeout: float = 30.0, sndbuf: int | None = None) -> Answer:
    """Send ``raw`` on a new connection and read one answer; never raises for network errors."""
    try:
        return await asyncio.wait_for(_exchange(port, raw, sndbuf), timeout)
    except (ConnectionResetError, BrokenPipeError):
        return Answer("reset")
    except asyncio.IncompleteReadError:
        return Answer("closed")
    except (asyncio.TimeoutError, TimeoutError):
        return Answer("timeout")
    except OSError as exc:  # e.g. connection refused
        return Answer(f"oserror:{exc.errno}")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when installed (a fast client), else asyncio."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


# ---------------------------------------------------------------- the attacks
@dataclass
class SlowlorisResult:
    legit: Counter[str]  # answers of the legitimate client while the slow connections hold
    slow: Counter[str]  # what each slow connection got in the end
    slow_seconds: float  # from the last slow connection's byte to the last one's end
    legit_seconds: list[float]


async def slowloris(
    port: int, n_slow: int, legit_raw: bytes, legit_count: int, end_timeout: float
) -> SlowlorisResult:
    """``n_slow`` connections send a request head and one byte of a 1,000-byte body, then
    nothing. While they hold, a legitimate client sends ``legit_count`` requests, one after the
    other, on fresh connections. Then each slow connection waits (at most ``end_timeout`` s) for
    whatever the server does with it."""
    slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(n_slow):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=STREAM_LIMIT)
        writer.write(post(b"[", length=1000))
        await writer.drain()
        slow.append((reader, writer))
    # a barrier: the server has accepted and read every slow connection before this one's answer
    # (one worker accepts in order and reads what is ready before a later connection's request)
    barrier = await request(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=30)
    assert barrier.status == 200, barrier
    started = time.monotonic()
    legit: Counter[str] = Counter()
    legit_seconds = []
    for _ in range(legit_count):
        t0 = time.monotonic()
        legit[(await request(port, legit_raw, timeout=30)).outcome] += 1
        legit_seconds.append(time.monotonic() - t0)

    async def fate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        try:
            answer = await asyncio.wait_for(read_answer(reader), end_timeout)
            # after the answer the server closes the connection
            rest = await asyncio.wait_for(reader.read(), end_timeout)
            return answer.outcome + ("" if rest == b"" else "+data")
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        except asyncio.IncompleteReadError:
            return "closed"
        except (asyncio.TimeoutError, TimeoutError):
            return "held"  # still open after end_timeout
        finally:
            writer.close()

    fates = await asyncio.gather(*[fate(r, w) for r, w in slow])
    return SlowlorisResult(legit, Counter(fates), time.monotonic() - started, legit_seconds)


async def flood(port: int, n: int, raw: bytes, timeout: float, sndbuf: int | None = None) -> Counter[str]:
    """``n`` concurrent connections each send ``raw`` at once and read one answer."""
    answers = await asyncio.gather(*[request(port, raw, timeout, sndbuf) for _ in range(n)])
    return Counter(a.outcome for a in answers)


def nested(depth: int) -> bytes:
    """A body whose first row's first value is a list nested ``depth`` deep."""
    return b'{"data":[[0,' + b"[" * depth + b"]" * depth + b",1,2,3,4,5,6,7]]}"


def huge_value(size: int) -> bytes:
    """A body whose first row's first value is a ``size``-character string."""
    return b'{"data":[[0,"' + b"A" * size + b'",1,2,3,4,5,6,7]]}'


def huge_row_index(size: int) -> bytes:
    return b'{"data":[["' + b"A" * size + b'",0,1,2,3,4,5,6,7]]}'


def many_rows(n: int) -> bytes:
    return b'{"data":[' + b",".join(b"[0,0,0,0,0,0,0,0,0]" for _ in range(n)) + b"]}"
