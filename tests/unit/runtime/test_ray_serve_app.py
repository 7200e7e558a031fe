"""ModelServer, the code inside mlrt's Ray Serve replicas (no Ray needed): one request at a time
and a `@serve.batch` batch answer exactly alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlrt_iac.runtime.ray_entry import ModelServer
from tests.unit.serving.helpers import make_xgboost


@pytest.fixture(scope="module")
def xgb(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelServer, Any]:
    model_dir = tmp_path_factory.mktemp("xgb-serve")
    booster = make_xgboost(model_dir)
    return ModelServer(str(model_dir)), booster


def body(x: np.ndarray, first: int = 0) -> bytes:
    return json.dumps({"data": [[first + i, *map(float, row)] for i, row in enumerate(x)]}).encode()


def rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 8))


def test_batch_answers_each_request_as_alone(xgb: tuple[ModelServer, Any]) -> None:
    server, booster = xgb
    xs = [rows(n, seed) for seed, n in enumerate((3, 1, 7))]
    reqs = [("POST", "/churn/predict", body(x, first=100 * k)) for k, x in enumerate(xs)]
    reqs.insert(1, ("POST", "/churn/predict_proba", body(rows(2, 9))))
    together = server.handle_many(reqs)
    alone = [server.handle(*r) for r in reqs]
    assert together == alone
    assert [status for status, _ in together] == [200, 200, 200, 200]
    first = json.loads(together[0][1])["data"]
    assert [r[0] for r in first] == [0, 1, 2]
    assert np.allclose([r[1] for r in first], booster.inplace_predict(xs[0]), atol=1e-6)
    third = json.loads(together[2][1])["data"]
    assert [r[0] for r in third] == [100]
    assert np.allclose([r[1] for r in third], booster.inplace_predict(xs[1]), atol=1e-6)
    proba = json.loads(together[1][1])["data"]
    assert len(proba) == 2 and len(proba[0][1]) == 2


def test_a_bad_request_fails_alone(xgb: tuple[ModelServer, Any]) -> None:
    server, _ = xgb
    good = ("POST", "/churn/predict", body(rows(2, 1)))
    answers = server.handle_many(
        [
            good,
            ("POST", "/churn/predict", b"{not json"),
            ("POST", "/churn/nope", body(rows(1, 2))),
            ("GET", "/churn/predict", b""),
            ("GET", "/churn/health", b""),
            ("POST", "/churn/predict", b'{"data": []}'),
            ("POST", "/churn/predict", body(rows(1, 3)[:, :5])),
            good,
        ]
    )
    assert [status for status, _ in answers] == [200, 400, 404, 405, 200, 200, 400, 200]
    assert answers[0] == answers[-1] == server.handle(*good)
    assert json.loads(answers[4][1])["status"] == "ok"
    assert answers[5][1] == b'{"data":[]}'


def test_model_failure_answers_500_for_its_batch(xgb: tuple[ModelServer, Any], tmp_path: Path) -> None:
    server, _ = xgb

    def broken(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("boom")

    server.model.functions["predict"], saved = broken, server.model.functions["predict"]
    try:
        answers = server.handle_many(
            [("POST", "/churn/predict", body(rows(1, 1))), ("POST", "/churn/predict_proba", body(rows(1, 2)))]
        )
    finally:
        server.model.functions["predict"] = saved
    assert answers[0][0] == 500 and "boom" in json.loads(answers[0][1])["error"]
    assert answers[1][0] == 200


def test_max_batch_rows_bounds_each_model_call(xgb: tuple[ModelServer, Any]) -> None:
    server, _ = xgb
    capped = ModelServer(server.model.uri, max_batch_rows=5)
    calls: list[int] = []
    predict = capped.model.functions["predict"]

    def counting(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return predict(x)

    capped.model.functions["predict"] = counting
    reqs = [("POST", "/s/predict", body(rows(n, n))) for n in (2, 3, 4, 1, 5)]
    answers = capped.handle_many(reqs)
    assert calls == [5, 5, 5]  # 2+3, 4+1, 5: never more than max_batch_rows at once
    calls.clear()
    assert answers == [capped.handle(*r) for r in reqs]
    big = ("POST", "/s/predict", body(rows(12, 0), first=40))
    calls.clear()
    split = capped.handle_many([big])
    assert calls == [5, 5, 2]  # a request of more than max_batch_rows is cut, answered as one
    assert split == [server.handle(*big)]  # what one 12-row call answers, in order
    assert [r[0] for r in json.loads(split[0][1])["data"]] == list(range(40, 52))


def test_max_body_bytes_answers_413(xgb: tuple[ModelServer, Any]) -> None:
    server, _ = xgb
    small = ModelServer(server.model.uri, max_body_bytes=200)
    status, answer = small.handle("POST", "/s/predict", body(rows(5, 1)))
    assert status == 413 and "at most 200" in json.loads(answer)["error"]
    assert small.handle("POST", "/s/predict", body(rows(1, 1)))[0] == 200


def test_a_custom_model_answers_typed_rows_in_a_replica(tmp_path: Path) -> None:
    """Issue 12 item 4: the Ray Serve replica loads model_class from the project directory and
    parses a custom method's rows as the local server does (strings in, vectors out, 400s)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "ray_encoder_mod.py").write_text(
        "class Encoder:\n"
        "    def encode(self, frame):\n"
        "        return [[len(t or ''), t is None] for t in frame['text']]\n"
    )
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "metadata.json").write_text(
        json.dumps({"framework": "custom", "input_cols": ["text"], "input_dtypes": {"text": "object"}})
    )
    server = ModelServer(
        str(model_dir), ["encode"], model_class="ray_encoder_mod:Encoder", project_dir=str(project)
    )
    good = json.dumps({"data": [[0, "abc"], [1, None]]}).encode()
    bad = json.dumps({"data": [[0, 3]]}).encode()
    answers = server.handle_many([("POST", "/churn/encode", good), ("POST", "/churn/encode", bad)])
    assert answers[0] == (200, b'{"data":[[0,[3,false]],[1,[0,true]]]}')
    assert (
        answers[1][0] == 400 and "3 is a number; the column takes a string or null" in answers[1][1].decode()
    )
