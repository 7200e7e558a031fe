"""The server over real HTTP: predictions, health, metrics, and a 400 for every malformed request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.unit.serving.helpers import COLS, Server, rows_body, training_data


def test_predict_equals_booster_predict_for_100_rows(xgb_server: Server, xgb_model: tuple[Path, Any]) -> None:
    import xgboost as xgb

    x, _ = training_data(100, seed=21)
    r = httpx.post(xgb_server.url + "/predict", json=rows_body(x, start=1000), timeout=10)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [row[0] for row in data] == list(range(1000, 1100))
    got = np.array([row[1] for row in data], dtype=np.float32)
    np.testing.assert_array_equal(got, xgb_model[1].predict(xgb.DMatrix(x, feature_names=COLS)))


def test_predict_proba(xgb_server: Server, xgb_model: tuple[Path, Any]) -> None:
    import xgboost as xgb

    x, _ = training_data(30, seed=22)
    r = httpx.post(xgb_server.url + "/predict_proba", json=rows_body(x), timeout=10)
    assert r.status_code == 200, r.text
    proba = np.array([row[1] for row in r.json()["data"]])
    assert proba.shape == (30, 2)
    np.testing.assert_allclose(
        proba[:, 1], xgb_model[1].predict(xgb.DMatrix(x, feature_names=COLS)), rtol=1e-6
    )
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_lightgbm_predict_equals_booster_predict(
    lgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    server = start_server(lgb_model[0], extra=["--functions", "predict"])
    x, _ = training_data(100, seed=23)
    r = httpx.post(server.url + "/predict", json=rows_body(x), timeout=10)
    assert r.status_code == 200, r.text
    got = np.array([row[1] for row in r.json()["data"]])
    np.testing.assert_array_equal(got, lgb_model[1].predict(x))
    # only the functions asked for are served
    assert httpx.post(server.url + "/predict_proba", json=rows_body(x), timeout=10).status_code == 404


def test_health_and_metrics(xgb_server: Server) -> None:
    health = httpx.get(xgb_server.url + "/health", timeout=5)
    assert health.status_code == 200
    info = health.json()
    assert info["status"] == "ok" and info["instance"] == "0"
    assert info["model"] == str(xgb_server.model_dir) and info["functions"] == ["predict", "predict_proba"]
    x, _ = training_data(5, seed=24)
    assert httpx.post(xgb_server.url + "/predict", json=rows_body(x), timeout=10).status_code == 200
    assert httpx.post(xgb_server.url + "/predict", content=b"{", timeout=10).status_code == 400
    metrics = httpx.get(xgb_server.url + "/metrics", timeout=5)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(metrics.text)
    assert samples['mlrt_serving_requests_total{instance="0",function="predict",code="200"}'] >= 1
    assert samples['mlrt_serving_requests_total{instance="0",function="predict",code="400"}'] >= 1
    count = samples['mlrt_serving_request_duration_seconds_count{instance="0",function="predict"}']
    assert count >= 2
    assert (
        samples['mlrt_serving_request_duration_seconds_bucket{instance="0",function="predict",le="+Inf"}']
        == count
    )
    assert 'mlrt_serving_queue_depth{instance="0"}' in samples
    assert 'mlrt_serving_rejections_total{instance="0",function="predict"}' in samples
    for line in metrics.text.splitlines():  # every line is a comment or "name{labels} number"
        assert line.startswith("# ") or len(line.rsplit(" ", 1)) == 2


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


GOOD_ROW = [0, *([1.0] * len(COLS))]


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"{not json", "not valid JSON"),
        (b'{"rows": []}', 'no "data" member'),
        (b'{"data": 5}', "must be a list"),
        (b'{"data": [[0,1,2,3,4,5,6,7,8], 7]}', "Row 1 is not a list"),
        (b'{"data": [[0,1,2,3,4,5,6,7,8], [41,1,2,3]]}', "Row 1 (row_index 41) has 3 values"),
        (
            b'{"data": [[0,1,2,3,4,5,6,7,8], [42,1,2,3,"oops",5,6,7,8]]}',
            "Row 1 (row_index 42), column 4 (f3): 'oops' is not a number",
        ),
    ],
)
def test_malformed_request_gets_400_and_server_keeps_answering(
    xgb_server: Server, content: bytes, needle: str
) -> None:
    r = httpx.post(xgb_server.url + "/predict", content=content, timeout=10)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert needle in r.json()["error"]
    ok = httpx.post(xgb_server.url + "/predict", json={"data": [GOOD_ROW]}, timeout=10)
    assert ok.status_code == 200 and ok.json()["data"][0][0] == 0


def test_unknown_path_and_wrong_method(xgb_server: Server) -> None:
    r = httpx.post(xgb_server.url + "/explain", json={"data": []}, timeout=5)
    assert r.status_code == 404 and "/predict" in r.json()["error"]
    r = httpx.get(xgb_server.url + "/predict", timeout=5)
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_a_request_over_max_batch_rows_is_cut_and_answered_as_one(
    xgb_server: Server, xgb_model: tuple[Path, Any]
) -> None:
    """The shared server has --max-batch-rows 300: 1000 rows go to the model as 300, 300, 300
    and 100, and come back as one answer equal to one Booster.predict over all of them, in order."""
    import xgboost as xgb

    x, _ = training_data(1000, seed=27)
    for function in ("predict", "predict_proba"):
        r = httpx.post(xgb_server.url + "/" + function, json=rows_body(x, start=-500), timeout=30)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert [row[0] for row in data] == list(range(-500, 500))
        got = np.array([row[1] for row in data], dtype=np.float32)
        want = xgb_model[1].predict(xgb.DMatrix(x, feature_names=COLS))
        if function == "predict_proba":
            got = got[:, 1]
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_batch_and_body_limits(
    xgb_server: Server, xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    too_many = {"data": [GOOD_ROW] * 1001}  # the shared server has --max-request-rows 1000
    r = httpx.post(xgb_server.url + "/predict", json=too_many, timeout=10)
    assert r.status_code == 413 and "--max-request-rows" in r.json()["error"]
    assert r.headers["content-type"] == "application/json"
    small = start_server(xgb_model[0], extra=["--max-body-bytes", "2000"])
    big = {"data": [GOOD_ROW] * 100}
    r = httpx.post(small.url + "/predict", json=big, timeout=10)
    assert r.status_code == 413 and "at most 2000" in r.json()["error"]

    def chunked() -> Any:  # no Content-Length: the limit holds while the body streams in
        for _ in range(10):
            yield b" " * 500

    r = httpx.post(small.url + "/predict", content=chunked(), timeout=10)
    assert r.status_code == 413
    assert httpx.post(small.url + "/predict", json={"data": [GOOD_ROW]}, timeout=10).status_code == 200


def test_nulls_are_missing_values(xgb_server: Server, xgb_model: tuple[Path, Any]) -> None:
    import xgboost as xgb

    x, _ = training_data(10, seed=25)
    x[::3, 2] = np.nan
    body = {"data": [[i, *[None if np.isnan(v) else float(v) for v in row]] for i, row in enumerate(x)]}
    r = httpx.post(xgb_server.url + "/predict", json=body, timeout=10)
    assert r.status_code == 200, r.text
    got = np.array([row[1] for row in r.json()["data"]], dtype=np.float32)
    np.testing.assert_array_equal(got, xgb_model[1].predict(xgb.DMatrix(x, feature_names=COLS)))
