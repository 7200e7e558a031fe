"""Admission control under overload: only 200s (all correct) and immediate 503s; bounded memory."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.unit.serving.helpers import COLS, Server, rows_body, training_data, tree_rss_mib

CLIENTS = 64
SECONDS = 4.0
MAX_QUEUE = 2


@pytest.mark.slow
def test_overload_gives_only_correct_200s_and_503s(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    import xgboost as xgb

    model_dir, booster = xgb_model
    server = start_server(model_dir, workers=1, max_queue=MAX_QUEUE)
    assert server.proc is not None
    bodies, expected = [], []
    for seed in range(4):
        x, _ = training_data(1000, seed=100 + seed)
        bodies.append(json.dumps(rows_body(x)).encode())
        expected.append(booster.predict(xgb.DMatrix(x, feature_names=COLS)))
    rss_before = tree_rss_mib(server.proc.pid)
    codes: dict[int, int] = {}
    wrong: list[str] = []
    depths: list[float] = []

    async def client(k: int, http: httpx.AsyncClient, deadline: float) -> None:
        i = k
        while time.monotonic() < deadline:
            r = await http.post(
                "/predict", content=bodies[i % 4], headers={"content-type": "application/json"}
            )
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code == 200:
                got = np.array([row[1] for row in r.json()["data"]], dtype=np.float32)
                if not np.array_equal(got, expected[i % 4]):
                    wrong.append(f"request {i}")
            elif r.status_code == 503:
                if r.headers.get("retry-after") != "1" or "capacity" not in r.json()["error"]:
                    wrong.append(f"bad 503: {r.headers} {r.text}")
            i += 1

    async def watch_queue(http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            text = (await http.get("/metrics")).text
            for line in text.splitlines():
                if line.startswith("mlrt_serving_queue_depth{"):
                    depths.append(float(line.rsplit(" ", 1)[1]))
            await asyncio.sleep(0.1)

    async def main() -> None:
        limits = httpx.Limits(max_connections=CLIENTS + 1, max_keepalive_connections=CLIENTS + 1)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
            deadline = time.monotonic() + SECONDS
            await asyncio.gather(
                watch_queue(http, deadline), *[client(k, http, deadline) for k in range(CLIENTS)]
            )

    asyncio.run(main())
    assert set(codes) <= {200, 503}, codes
    assert codes.get(200, 0) > 0 and codes.get(503, 0) > 0, codes
    assert not wrong, wrong[:5]
    assert depths and max(depths) <= MAX_QUEUE, depths
    # the server is alive, counted every rejection, and did not grow with the load
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    x, _ = training_data(3, seed=7)
    assert httpx.post(server.url + "/predict", json=rows_body(x), timeout=10).status_code == 200
    metrics = httpx.get(server.url + "/metrics", timeout=10).text
    assert f'mlrt_serving_rejections_total{{instance="0",function="predict"}} {codes[503]}' in metrics
    assert tree_rss_mib(server.proc.pid) - rss_before < 200
