"""Micro-batching: requests merged into few prediction calls, each answer exactly its own rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from mlrt_iac.runtime.serving.batch import BatchSpec, answer_batch
from mlrt_iac.runtime.serving.model import LoadedModel, PredictFn, load_model
from tests.unit.serving.helpers import COLS, Server, rows_body, training_data


class Counting:
    """A model function that records the rows of every call it gets (the real model underneath)."""

    def __init__(self, fn: PredictFn, fail_on: float | None = None) -> None:
        self.fn = fn
        self.fail_on = fail_on
        self.calls: list[int] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape[0])
        if self.fail_on is not None and bool(np.any(x == self.fail_on)):
            raise ValueError("a value this model cannot take")
        return self.fn(x)


@pytest.fixture(scope="module")
def xgb(xgb_model: tuple[Path, Any]) -> tuple[LoadedModel, Any]:
    model_dir, booster = xgb_model
    return load_model(model_dir), booster


def spec(
    model: LoadedModel, batch_rows: int = 4096, max_rows: int = 1000, max_batch_rows: int | None = None
) -> BatchSpec:
    return BatchSpec(model.input_cols, model.input_dtype, max_rows, batch_rows, (), max_batch_rows)


def expected(booster: Any, x: np.ndarray, proba: bool = False) -> np.ndarray:
    import xgboost as xgb

    p = booster.predict(xgb.DMatrix(x, feature_names=COLS))
    return np.column_stack([1 - p, p]) if proba else p


def request(x: np.ndarray, start: int) -> bytes:
    return json.dumps(rows_body(x, start)).encode()


def values(answer: tuple[int, bytes]) -> tuple[list[Any], np.ndarray]:
    status, body = answer
    assert status == 200, body
    data = json.loads(body)["data"]
    return [r[0] for r in data], np.array([r[1] for r in data], dtype=np.float32)


def test_merged_answers_are_each_requests_own_rows_in_order(xgb: tuple[LoadedModel, Any]) -> None:
    model, booster = xgb
    fn = Counting(model.functions["predict"])
    sizes = [100, 1, 37, 250, 3]
    xs = [training_data(n, seed=10 + i)[0] for i, n in enumerate(sizes)]
    starts = [1000 * i - 5 for i in range(len(sizes))]  # distinct row indexes, one negative
    answers = answer_batch([(request(x, s), fn) for x, s in zip(xs, starts)], spec(model))
    assert fn.calls == [sum(sizes)]  # one prediction call for the whole batch
    for x, start, answer in zip(xs, starts, answers):
        indexes, got = values(answer)
        assert indexes == list(range(start, start + len(x)))
        np.testing.assert_array_equal(got, expected(booster, x).astype(np.float32))


def test_batch_rows_bounds_each_call_and_zero_turns_merging_off(xgb: tuple[LoadedModel, Any]) -> None:
    model, booster = xgb
    xs = [training_data(100, seed=20 + i)[0] for i in range(5)]
    bodies = [request(x, 0) for x in xs]
    for batch_rows, calls in ((250, [200, 200, 100]), (100, [100] * 5), (0, [100] * 5), (99, [100] * 5)):
        fn = Counting(model.functions["predict"])
        answers = answer_batch([(b, fn) for b in bodies], spec(model, batch_rows=batch_rows))
        assert fn.calls == calls, batch_rows
        for x, answer in zip(xs, answers):
            np.testing.assert_array_equal(values(answer)[1], expected(booster, x).astype(np.float32))


def test_max_batch_rows_cuts_a_request_and_answers_it_as_one_call_would(
    xgb: tuple[LoadedModel, Any],
) -> None:
    """A 2,500-row request with max_batch_rows 1000: three calls of 1000, 1000, 500 rows, one
    answer byte for byte what a single 2,500-row call gives, its row indexes in their order."""
    model, _ = xgb
    x = training_data(2500, seed=41)[0]
    body = request(x, -7)
    whole = answer_batch([(body, model.functions["predict"])], spec(model, max_rows=5000))
    for batch_rows in (4096, 0, 300):
        fn = Counting(model.functions["predict"])
        split = answer_batch([(body, fn)], spec(model, batch_rows, max_rows=5000, max_batch_rows=1000))
        assert fn.calls == [1000, 1000, 500], batch_rows
        assert split == whole
    indexes, _ = values(whole[0])
    assert indexes == list(range(-7, 2493))
    proba = answer_batch([(body, model.functions["predict_proba"])], spec(model, max_rows=5000))
    cut = answer_batch(
        [(body, model.functions["predict_proba"])], spec(model, max_rows=5000, max_batch_rows=999)
    )
    assert cut == proba  # a list per row (one probability per class) splices the same way


def test_max_batch_rows_with_other_requests_merged_up_to_it(xgb: tuple[LoadedModel, Any]) -> None:
    """Small requests merge with the pieces of a big one up to max_batch_rows; every answer is
    its own rows in order, as if each request were predicted alone."""
    model, _ = xgb
    sizes = [30, 250, 40, 10]
    xs = [training_data(n, seed=50 + i)[0] for i, n in enumerate(sizes)]
    bodies = [request(x, 100 * i) for i, x in enumerate(xs)]
    fn = Counting(model.functions["predict"])
    answers = answer_batch([(b, fn) for b in bodies], spec(model, max_batch_rows=100))
    assert max(fn.calls) <= 100 and sum(fn.calls) == sum(sizes)
    # 30 alone (30 + 100 > 100), the big one's pieces 100, 100, then its 50 with the 40 and the 10
    assert fn.calls == [30, 100, 100, 100]
    alone = [answer_batch([(b, model.functions["predict"])], spec(model))[0] for b in bodies]
    assert answers == alone


def test_a_failing_piece_fails_its_whole_request_only(xgb: tuple[LoadedModel, Any]) -> None:
    model, _ = xgb
    x = training_data(300, seed=61)[0]
    x[250, 0] = 12345.0  # in the third piece of 100
    other = training_data(20, seed=62)[0]
    fn = Counting(model.functions["predict"], fail_on=12345.0)
    answers = answer_batch(
        [(request(x, 0), fn), (request(other, 0), fn)], spec(model, batch_rows=0, max_batch_rows=100)
    )
    assert answers[0][0] == 500 and "cannot take" in json.loads(answers[0][1])["error"]
    assert answers[1] == answer_batch([(request(other, 0), model.functions["predict"])], spec(model))[0]


def test_a_bad_request_gets_its_own_400_and_poisons_nothing(xgb: tuple[LoadedModel, Any]) -> None:
    model, booster = xgb
    fn = Counting(model.functions["predict"])
    x1, x2 = training_data(50, seed=31)[0], training_data(70, seed=32)[0]
    bad_row = [0, *map(float, x1[0][:-1]), True]
    batch = [
        (request(x1, 0), fn),
        (b"{not json", fn),
        (json.dumps({"data": [[0, 1.0, 2.0]]}).encode(), fn),  # too few columns
        (json.dumps({"data": [bad_row]}).encode(), fn),  # a boolean
        (b'{"data": []}', fn),
        (request(x2, 100), fn),
    ]
    answers = answer_batch(batch, spec(model))
    assert [a[0] for a in answers] == [200, 400, 400, 400, 200, 200]
    assert "not valid JSON" in json.loads(answers[1][1])["error"]
    assert json.loads(answers[3][1])["column"] == len(COLS)
    assert json.loads(answers[4][1]) == {"data": []}
    assert fn.calls == [120]
    np.testing.assert_array_equal(values(answers[0])[1], expected(booster, x1).astype(np.float32))
    np.testing.assert_array_equal(values(answers[5])[1], expected(booster, x2).astype(np.float32))


def test_a_request_that_fails_the_model_fails_alone(xgb: tuple[LoadedModel, Any]) -> None:
    model, booster = xgb
    fn = Counting(model.functions["predict"], fail_on=666.0)
    x1, x3 = training_data(40, seed=41)[0], training_data(60, seed=43)[0]
    x2 = training_data(5, seed=42)[0]
    x2[2, 3] = 666.0
    answers = answer_batch([(request(x, 0), fn) for x in (x1, x2, x3)], spec(model))
    assert [a[0] for a in answers] == [200, 500, 200]
    assert "failed to predict" in json.loads(answers[1][1])["error"]
    assert fn.calls[0] == 105  # the merged call failed; then each request on its own
    np.testing.assert_array_equal(values(answers[0])[1], expected(booster, x1).astype(np.float32))
    np.testing.assert_array_equal(values(answers[2])[1], expected(booster, x3).astype(np.float32))


def test_functions_are_merged_separately(xgb: tuple[LoadedModel, Any]) -> None:
    model, booster = xgb
    predict = Counting(model.functions["predict"])
    proba = Counting(model.functions["predict_proba"])
    xs = [training_data(30 + i, seed=50 + i)[0] for i in range(4)]
    fns: list[Counting] = [predict, proba, predict, proba]
    answers = answer_batch([(request(x, 0), f) for x, f in zip(xs, fns)], spec(model))
    assert predict.calls == [30 + 32] and proba.calls == [31 + 33]
    for x, f, answer in zip(xs, fns, answers):
        status, body = answer
        assert status == 200
        got = np.array([r[1] for r in json.loads(body)["data"]], dtype=np.float32)
        np.testing.assert_array_equal(got, expected(booster, x, proba=f is proba).astype(np.float32))


def test_a_result_per_row_is_required_to_split(xgb: tuple[LoadedModel, Any]) -> None:
    model, _ = xgb
    calls: list[int] = []

    def first_row_only(x: np.ndarray) -> np.ndarray:  # a model that answers one value per call
        calls.append(x.shape[0])
        return np.array([float(x.shape[0])])

    xs = [training_data(1, seed=60)[0], training_data(1, seed=61)[0]]
    answers = answer_batch([(request(x, 0), first_row_only) for x in xs], spec(model))
    # the merged call's one value cannot be split: each request is asked on its own
    assert calls == [2, 1, 1]
    assert [json.loads(a[1])["data"] for a in answers] == [[[0, 1.0]], [[0, 1.0]]]


def test_concurrent_requests_to_one_worker_each_get_their_own_rows(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    """Many clients at once on a 1-worker server: every answer equals booster.predict for its
    own rows (whatever batches they were merged into), a bad request among them gets its 400."""
    model_dir, booster = xgb_model
    server = start_server(model_dir, workers=1, max_queue=64)
    n = 48
    xs = [training_data(1 + (i * 37) % 150, seed=200 + i)[0] for i in range(n)]

    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=n + 1)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
            good = [http.post("/predict", json=rows_body(x, 10_000 * i)) for i, x in enumerate(xs)]
            bad = http.post("/predict", content=b'{"data": [[0, true, 1, 2, 3, 4, 5, 6, 7]]}')
            proba = http.post("/predict_proba", json=rows_body(xs[0], 7))
            return list(await asyncio.gather(*good, bad, proba))

    responses = asyncio.run(main())
    for i, (x, r) in enumerate(zip(xs, responses)):
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert [row[0] for row in data] == list(range(10_000 * i, 10_000 * i + len(x)))
        got = np.array([row[1] for row in data], dtype=np.float32)
        np.testing.assert_array_equal(got, expected(booster, x).astype(np.float32))
    assert responses[n].status_code == 400 and responses[n].json()["column"] == 1
    got = np.array([row[1] for row in responses[n + 1].json()["data"]], dtype=np.float32)
    np.testing.assert_array_equal(got, expected(booster, xs[0], proba=True).astype(np.float32))
