"""Answer several requests with as few prediction calls as possible (micro-batching).

A worker hands over every request that has arrived while it was busy as one batch. Each request is
parsed on its own (a malformed one gets its own 400 and nothing else changes); the requests for
the same function are merged into one feature matrix of at most ``batch_rows`` rows, predicted in
one call, and the results are cut back at the requests' row offsets, so each answer holds exactly
its own rows in its own order. A model call has a fixed cost (XGBoost: ~0.25 ms, about what 100
rows cost), which merging pays once per batch instead of once per request.

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
    for fn, items in groups.items():
        for chunk in _chunks(items, spec.batch_rows):
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


def _predict_one(fn: PredictFn, parsed: ParsedRequest) -> Answer:
    try:
        results = fn(parsed.features)
    except Exception as exc:  # a model failure answers 500 and leaves the worker serving
        LOG.exception("prediction failed")
        failed = RequestError(500, f"The model failed to predict: {exc}")
        return 500, jsoncodec.dumps(failed.to_json())
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
