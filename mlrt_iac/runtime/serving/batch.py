"""Answer several requests with as few prediction calls as possible (micro-batching).

A worker hands over every request that has arrived while it was busy as one batch. Each request is
parsed on its own (a malformed one gets its own 400 and nothing else changes); the requests for
the same function are merged into one feature matrix of at most ``batch_rows`` rows, predicted in
one call, and the results are cut back at the requests' row offsets, so each answer holds exactly
its own rows in its own order. A model call has a fixed cost (XGBoost: ~0.25 ms, about what 100
rows cost), which merging pays once per batch instead of once per request.

``max_batch_rows`` (the service's attribute) bounds the rows of one model call: a request with
more rows is cut into pieces of at most that many (views of its matrix, no copy), merged with the
other requests as above within ``min(batch_rows, max_batch_rows)`` rows, predicted one call after
another, and answered as one response with its rows in their order. A piece that fails makes its
whole request a 500.

When a merged call fails, the requests are predicted one by one, so a request that makes the
model fail gets its own 500 and the others their answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlrt_iac.runtime.serving import jsoncodec
from mlrt_iac.runtime.serving.custom import TableFunction
from mlrt_iac.runtime.serving.errors import RequestError
from mlrt_iac.runtime.serving.model import PredictFn
from mlrt_iac.runtime.serving.parsing import (
    ParsedRequest,
    encode_response,
    parse_request,
    parse_table_request,
)

LOG = logging.getLogger("mlrt.serving")

EMPTY_ANSWER = b'{"data":[]}'

Answer = tuple[int, bytes]  # HTTP status and JSON body


@dataclass(frozen=True)
class BatchSpec:
    """How the requests of one model are parsed and merged."""

    input_cols: list[str]
    dtype: type
    max_rows: int  # rows of one request at most (413 beyond)
    batch_rows: int  # rows merged into one prediction call at most; 0: every request on its own
    column_kinds: tuple[str, ...] = ()  # per column, what a custom model's method takes
    # rows handed to the model in one call at most (larger requests are cut); None: no limit
    max_batch_rows: int | None = None

    @property
    def merge_rows(self) -> int:
        """Rows of several requests merged into one call at most (0: none merged)."""
        if self.max_batch_rows is None or self.batch_rows <= 0:
            return self.batch_rows
        return min(self.batch_rows, self.max_batch_rows)


def parse_for(body: bytes, fn: PredictFn, spec: BatchSpec) -> ParsedRequest:
    """The request parsed as ``fn`` takes it: a float matrix, or typed rows for a custom method."""
    if isinstance(fn, TableFunction):
        return parse_table_request(body, spec.input_cols, spec.column_kinds, spec.max_rows)
    return parse_request(body, spec.input_cols, spec.dtype, spec.max_rows)


def answer_batch(requests: Sequence[tuple[bytes, PredictFn]], spec: BatchSpec) -> list[Answer]:
    """One answer per request, in the order given: parse each, predict merged, split, encode."""
    answers: list[Answer | None] = [None] * len(requests)
    groups: dict[PredictFn, list[tuple[int, ParsedRequest]]] = {}
    for i, (body, fn) in enumerate(requests):
        try:
            parsed = parse_for(body, fn, spec)
        except RequestError as bad:
            answers[i] = (bad.status, jsoncodec.dumps(bad.to_json()))
            continue
        if not parsed.row_indexes:
            answers[i] = (200, EMPTY_ANSWER)
            continue
        groups.setdefault(fn, []).append((i, parsed))
    limit = spec.max_batch_rows
    for fn, items in groups.items():
        if limit is not None and any(len(parsed.row_indexes) > limit for _, parsed in items):
            for i, answer in _answer_split(fn, items, limit, spec.merge_rows):
                answers[i] = answer
            continue
        for chunk in _chunks(items, spec.merge_rows):
            for i, answer in _predict_chunk(fn, chunk):
                answers[i] = answer
    out: list[Answer] = []
    for maybe in answers:
        assert maybe is not None
        out.append(maybe)
    return out


def _chunks(items: list[tuple[int, ParsedRequest]], batch_rows: int) -> list[list[tuple[int, ParsedRequest]]]:
    """Consecutive runs of requests with at most ``batch_rows`` rows together (a larger request
    alone); every request on its own when ``batch_rows`` is 0."""
    if batch_rows <= 0:
        return [[item] for item in items]
    chunks: list[list[tuple[int, ParsedRequest]]] = []
    current: list[tuple[int, ParsedRequest]] = []
    rows = 0
    for item in items:
        n = len(item[1].row_indexes)
        if current and rows + n > batch_rows:
            chunks.append(current)
            current, rows = [], 0
        current.append(item)
        rows += n
    if current:
        chunks.append(current)
    return chunks


def _answer_split(
    fn: PredictFn, items: list[tuple[int, ParsedRequest]], limit: int, merge_rows: int
) -> list[tuple[int, Answer]]:
    """Answers when some request has more than ``limit`` rows: each such request is cut into
    pieces of ``limit`` rows, the pieces (and the other requests) are predicted chunk by chunk,
    and a cut request's answers are joined into one, in its rows' order."""
    pieces: list[tuple[int, ParsedRequest]] = []
    for i, parsed in items:
        n = len(parsed.row_indexes)
        if n <= limit:
            pieces.append((i, parsed))
            continue
        for start in range(0, n, limit):
            end = start + limit
            pieces.append((i, ParsedRequest(parsed.row_indexes[start:end], parsed.features[start:end])))
    parts: dict[int, list[Answer]] = {}
    for chunk in _chunks(pieces, merge_rows):
        for i, answer in _predict_chunk(fn, chunk):
            parts.setdefault(i, []).append(answer)
    return [(i, _join(parts[i])) for i, _ in items]


_DATA_HEAD = b'{"data":['
_DATA_TAIL = b"]}"


def _join(answers: list[Answer]) -> Answer:
    """One answer from the answers of a request's pieces, in order: the first failure, or the
    rows of all of them (``{"data":[...]}`` bodies spliced, no re-encoding)."""
    if len(answers) == 1:
        return answers[0]
    for status, body in answers:
        if status != 200:
            return status, body
    rows = [body[len(_DATA_HEAD) : -len(_DATA_TAIL)] for _, body in answers]
    return 200, _DATA_HEAD + b",".join(r for r in rows if r) + _DATA_TAIL


def _predict_one(fn: PredictFn, parsed: ParsedRequest) -> Answer:
    try:
        results = fn(parsed.features)
    except Exception as exc:  # a model failure answers 500 and leaves the worker serving
        LOG.exception("prediction failed")
        failed = RequestError(500, f"The model failed to predict: {exc}")
        return 500, jsoncodec.dumps(failed.to_json())
    n = len(parsed.row_indexes)
    got = len(results) if getattr(results, "ndim", 1) else 1
    if got != n:  # the rows cannot be told apart: no partial answer
        LOG.error("the model returned %d results for %d rows", got, n)
        wrong = RequestError(
            500, f"The model returned {got} results for {n} rows; it must return one per row."
        )
        return 500, jsoncodec.dumps(wrong.to_json())
    return 200, encode_response(parsed.row_indexes, results)


def _predict_chunk(fn: PredictFn, chunk: list[tuple[int, ParsedRequest]]) -> list[tuple[int, Answer]]:
    if len(chunk) == 1:
        i, parsed = chunk[0]
        return [(i, _predict_one(fn, parsed))]
    features = np.concatenate([parsed.features for _, parsed in chunk])
    total = features.shape[0]
    try:
        results = fn(features)
    except Exception:  # find out which request fails: each gets its own answer
        return [(i, _predict_one(fn, parsed)) for i, parsed in chunk]
    if results.shape[0] != total:  # not one result per row: the rows cannot be told apart
        return [(i, _predict_one(fn, parsed)) for i, parsed in chunk]
    out: list[tuple[int, Answer]] = []
    start = 0
    for i, parsed in chunk:
        end = start + len(parsed.row_indexes)
        out.append((i, (200, encode_response(parsed.row_indexes, results[start:end]))))
        start = end
    return out
