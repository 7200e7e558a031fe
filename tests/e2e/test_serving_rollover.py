"""Rolling model updates under keep-alive clients: not one request fails, every answer is right.

A model update of a local service (``mlrt apply -replace training.xgb``) is a rollover: the provider
starts an instance of the new model on the service's port (it adopts the listening socket), waits
until it is ready, then SIGTERMs the old one. This test drives exactly that sequence with the
serving command and the same two steps (start the new instance, stop the old one), rotating three
different models, while keep-alive ``httpx.Client``s post in a loop. Each answer must be exactly
one model's prediction, and never an older model's than the one alone on the port when the request
was sent (three models, so that the one before and the one after a version differ). Keep-alive clients are the
hard case: their connections stay with the old instance until it closes them, and a close that
crosses a client's next request loses that request (``test_drain.py`` has the details).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import xgboost as xgb

from tests.unit.serving.helpers import (
    COLS,
    Server,
    free_port,
    make_xgboost,
    rows_body,
    training_data,
    write_metadata,
)

ROLLOVERS = 10
CLIENTS = 3
ROWS = 5


def _other_model(model_dir: Path, seed: int, depth: int) -> xgb.Booster:
    """An XGBoost model that predicts differently from ``make_xgboost``'s (a "retrained" one)."""
    x, y = training_data(seed=seed)
    params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.5, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(pd.DataFrame(x, columns=COLS), label=y), 4)
    model_dir.mkdir(parents=True)
    booster.save_model(str(model_dir / "model.ubj"))
    write_metadata(model_dir, "xgboost", "model.ubj", "binary:logistic", 2)
    return booster


def test_keep_alive_clients_lose_no_request_over_rolling_model_updates(tmp_path: Path) -> None:
    models = [tmp_path / "model-a", tmp_path / "model-b", tmp_path / "model-c"]
    boosters = [
        make_xgboost(models[0]),
        _other_model(models[1], seed=11, depth=2),
        _other_model(models[2], seed=12, depth=4),
    ]
    x, _ = training_data(ROWS, seed=3)
    body = rows_body(x)
    expected = [b.predict(xgb.DMatrix(pd.DataFrame(x, columns=COLS))) for b in boosters]
    for i in range(3):
        assert not np.allclose(expected[i], expected[i - 1]), "the models must be told apart"

    port = free_port()
    url = f"http://127.0.0.1:{port}/predict"
    lock = threading.Lock()
    failures: list[str] = []
    counts = {"answered": 0, "closing": 0}
    settled = [0]  # the version that alone serves the port (its predecessor has exited)
    stop = threading.Event()

    def which_model(answer: Any) -> int | None:
        rows = answer["data"]
        if [r[0] for r in rows] != list(range(ROWS)):
            return None
        got = np.array([r[1] for r in rows])
        for m, want in enumerate(expected):
            if np.allclose(got, want, rtol=1e-6, atol=0):
                return m
        return None

    def client() -> None:
        with httpx.Client(timeout=30) as http:  # one pool: connections are reused (keep-alive)
            while not stop.is_set():
                version = settled[0]
                try:
                    r = http.post(url, json=body)
                    model = which_model(r.json()) if r.status_code == 200 else None
                except Exception as exc:  # a reset, a disconnect, an answer that is not JSON
                    with lock:
                        failures.append(f"after v{version}: {exc!r}")
                    continue
                # the instances that may have answered: `version` (alone when the request was
                # sent) and the later ones started since
                may_answer = {k % len(models) for k in range(version, settled[0] + 2)}
                with lock:
                    if r.status_code != 200:
                        failures.append(f"after v{version}: {r.status_code} {r.text[:200]}")
                    elif model is None:
                        failures.append(f"after v{version}: a wrong answer {r.text[:200]}")
                    elif model not in may_answer:
                        failures.append(f"sent to v{version}, answered by an older model {model}")
                    else:
                        counts["answered"] += 1
                        counts["closing"] += r.headers.get("connection") == "close"

    servers: list[Server] = []
    try:
        current = Server(models[0], port, instance_id="v0")
        servers.append(current)  # listed before it starts: stopped whatever happens
        current.start(tmp_path)
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            for version in range(1, ROLLOVERS + 1):
                replacement = Server(models[version % len(models)], port, instance_id=f"v{version}")
                servers.append(replacement)
                replacement.start(tmp_path)
                current.stop()  # SIGTERM, and wait until every process of the old instance has exited
                current = replacement
                settled[0] = version
        finally:
            stop.set()
            for t in threads:
                t.join(60)
    finally:
        for server in servers:
            server.stop()

    sent = counts["answered"] + len(failures)
    print(f"{ROLLOVERS} rollovers, {sent} requests, {len(failures)} failed, {counts['closing']} closing")
    assert failures == [], (len(failures), failures[:5], counts)
    assert counts["answered"] > 20 * ROLLOVERS, counts
    # every rollover moved the clients' connections over: the old instance told them to close
    assert counts["closing"] >= ROLLOVERS, counts
