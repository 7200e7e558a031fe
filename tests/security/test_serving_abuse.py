"""(7) The inference server holds under abuse: limits with defaults, answered in JSON, no reset.

Each attack runs against a real ``python -m mlrt_iac.runtime.serving`` process, from raw sockets
(tests/security/serving_attacks.py). On the old server: slowloris connections held every waiting
slot (legitimate clients got 503 for as long as they held), concurrent large requests from
one-shot (``Connection: close``) clients were reset, a list nested 1,000 deep was a 500 with a
traceback, a 400 echoed a 60 MB value, a 1 MB header line was accepted, and there was no row cap.
The status counts of the slowloris and flood cases are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.security import serving_attacks as atk
from tests.unit.serving.helpers import Server

GOOD = atk.post(atk.rows_body(100))


def _json_error(answer: atk.Answer, status: int) -> dict[str, Any]:
    assert answer.status == status, (answer.outcome, answer.body[:300])
    assert answer.headers.get("content-type") == "application/json", answer.headers
    doc = json.loads(answer.body)
    assert doc["code"] == status and doc["error"], doc
    return dict(doc)


def _no_traceback(server: Server) -> None:
    assert server.log is not None
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text and "Exception in ASGI application" not in text, text[-3000:]


def test_slowloris_holds_no_waiting_slot(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    """50 connections send a head and 1 byte of body, then nothing: against one worker with 2
    waiting slots. The legitimate client gets 200 while they hold; each slow one gets a 408 (JSON)
    at its deadline and is closed."""
    server = start_server(xgb_model[0], workers=1, max_queue=2, extra=["--request-timeout", "3"])
    result = atk.run(atk.slowloris(server.port, 50, GOOD, 5, end_timeout=10))
    print(
        f"\nslowloris, 50 slow connections: legitimate {dict(result.legit)}, slow connections "
        f"{dict(result.slow)} after {result.slow_seconds:.1f} s"
    )
    assert result.legit == {"200": 5}, result
    assert result.slow == {"408": 50}, result
    assert result.slow_seconds < 10, result


def test_slow_or_silent_heads_are_closed(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    """A head that never ends gets a 408 at the deadline; a connection that sends nothing is closed."""
    server = start_server(xgb_model[0], workers=1, extra=["--request-timeout", "2"])

    async def main() -> tuple[list[str], list[bytes]]:
        partial, silent = [], []
        for _ in range(5):
            reader, writer = await atk.connect(server.port)
            writer.write(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/js")
            partial.append((reader, writer))
            silent.append(await atk.connect(server.port))

        async def head_answer(reader: Any) -> str:
            return (await asyncio.wait_for(atk.read_answer(reader), 10)).outcome

        heads = await asyncio.gather(*[head_answer(r) for r, _ in partial])
        ends = await asyncio.gather(*[asyncio.wait_for(r.read(), 10) for r, _ in silent])
        for _, w in partial + silent:
            w.close()
        return heads, ends

    heads, ends = atk.run(main())
    assert heads == ["408"] * 5 and ends == [b""] * 5, (heads, ends)
    assert atk.run(atk.request(server.port, GOOD)).outcome == "200"


def test_concurrent_large_requests_are_answered_not_reset(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    """300 one-shot clients (Connection: close) send a ~300 KB request each, all at once, to
    2 workers with 8 waiting slots: every one gets an answer, 200 or 503, none a reset."""
    server = start_server(xgb_model[0], workers=2, max_queue=8)
    body = atk.rows_body(1800)
    assert 280_000 < len(body) < 320_000
    raw = atk.post(body, extra_headers=b"Connection: close\r\n")
    counts = atk.run(atk.flood(server.port, 300, raw, timeout=60, sndbuf=16384))
    print(f"\nflood, 300 concurrent requests of {len(body) // 1000} KB: {dict(sorted(counts.items()))}")
    assert set(counts) <= {"200", "413", "503"}, counts
    assert counts["200"] > 0 and sum(counts.values()) == 300, counts
    assert atk.run(atk.request(server.port, GOOD)).outcome == "200"
    _no_traceback(server)


def test_early_answers_to_large_bodies_are_not_reset(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    """A body over the limit is refused (413) before it is read; the connection then reads the
    rest instead of closing on it, so a client still sending gets the 413, not a reset."""
    server = start_server(xgb_model[0], workers=1, extra=["--max-body-bytes", "1000000"])
    body = atk.rows_body(20_000)  # ~3 MB
    for close in (b"", b"Connection: close\r\n"):
        raw = atk.post(body, extra_headers=close)
        counts = atk.run(atk.flood(server.port, 10, raw, timeout=60, sndbuf=16384))
        assert counts == {"413": 10}, (close, counts)


def test_deep_nesting_is_a_400_without_traceback(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    server = start_server(xgb_model[0], workers=1)
    deep = b"[" * 1000 + b"]" * 1000
    bodies = [
        atk.nested(1000),  # a value
        atk.nested(5000),  # beyond the JSON parser's own limit
        b'{"data":[[' + deep + b",1,2,3,4,5,6,7,8]]}",  # the row index
        b'{"data":[' + deep + b"]}",  # a row
        b'{"data":' + deep + b"}",  # the rows
    ]
    for body in bodies:
        doc = _json_error(atk.run(atk.request(server.port, atk.post(body))), 400)
        assert len(json.dumps(doc)) < 1024, doc
    assert atk.run(atk.request(server.port, GOOD)).outcome == "200"
    _no_traceback(server)


def test_an_error_does_not_echo_a_huge_value(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    server = start_server(xgb_model[0], workers=1)
    for body in (atk.huge_value(60_000_000), atk.huge_row_index(10_000_000)):
        answer = atk.run(atk.request(server.port, atk.post(body), timeout=60))
        doc = _json_error(answer, 400)
        assert len(answer.body) < 1024, answer.body[:300]
        assert "AAAA" in doc["error"] and "..." in doc["error"]  # quoted, cut short


def test_a_huge_header_is_refused(xgb_model: tuple[Path, Any], start_server: Callable[..., Server]) -> None:
    server = start_server(xgb_model[0], workers=1)
    one_line = b"X-Big: " + b"a" * 1_000_000 + b"\r\n"
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(400))  # 40 KB in all
    for extra in (one_line, many):
        _json_error(atk.run(atk.request(server.port, atk.post(atk.rows_body(3), extra_headers=extra))), 431)
    assert atk.run(atk.request(server.port, GOOD)).outcome == "200"  # 16 KiB is the default limit


def test_rows_are_capped_by_default(xgb_model: tuple[Path, Any], start_server: Callable[..., Server]) -> None:
    server = start_server(xgb_model[0], workers=1)  # no --max-request-rows: the default, 100,000
    for n in (100_001, 1_000_000):
        doc = _json_error(atk.run(atk.request(server.port, atk.post(atk.many_rows(n)), timeout=60)), 413)
        assert "100000 rows" in doc["error"], doc
    assert atk.run(atk.request(server.port, atk.post(atk.many_rows(100_000)), timeout=60)).outcome == "200"


def test_bodies_held_at_once_are_bounded(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    """Bodies are read before a request takes a waiting slot, so what one worker holds of them
    at once is capped (--max-buffered-bytes): beyond it, an immediate 503."""
    server = start_server(
        xgb_model[0],
        workers=1,
        extra=["--max-body-bytes", "1000000", "--max-buffered-bytes", "2000000", "--request-timeout", "3"],
    )

    async def main() -> tuple[list[str], str]:
        held = []
        for _ in range(2):  # two bodies of 900 KB on their way hold 1.8 MB of the 2 MB
            reader, writer = await atk.connect(server.port)
            writer.write(atk.post(b"[", length=900_000))
            held.append((reader, writer))
        # a barrier: one worker has read both heads before it answers a later connection
        assert (await atk.request(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")).status == 200
        third = await atk.request(server.port, atk.post(b"x" * 10, length=900_000))
        fates = [(await asyncio.wait_for(atk.read_answer(r), 10)).outcome for r, _ in held]
        for _, w in held:
            w.close()
        return fates, third.outcome

    fates, third = atk.run(main())
    assert third == "503" and fates == ["408", "408"], (third, fates)
    assert atk.run(atk.request(server.port, GOOD)).outcome == "200"
