"""The hand-written baseline for mlrt's Serve application (bench/ray_overhead.py deploys it).

A minimal Ray Serve deployment of the same booster, written the way the Ray Serve docs show:
an async `__call__` that reads the starlette body, `json.loads`, `inplace_predict`, `json.dumps`.
With `batch` set, requests go through `@serve.batch` and one `inplace_predict` per batch.

Application builder (import path ``bench.ray_serve_minimal:build``); args: ``model_file``,
``batch`` (max batch size, 0 = no batching), ``batch_wait_s``, ``nthread``.
"""

from __future__ import annotations

import json
from typing import Any


def build(args: dict[str, Any]) -> Any:
    import numpy as np
    import xgboost as xgb
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import Response

    batch = int(args.get("batch") or 0)
    wait = float(args.get("batch_wait_s") or 0.002)

    def load() -> Any:
        booster = xgb.Booster()
        booster.load_model(str(args["model_file"]))
        booster.set_param({"nthread": int(args.get("nthread") or 1)})
        return booster

    def answer(rows: list[list[float]], preds: Any) -> bytes:
        return json.dumps({"data": [[row[0], float(p)] for row, p in zip(rows, preds)]}).encode()

    @serve.deployment(name="Minimal")
    class Minimal:
        def __init__(self) -> None:
            self.booster = load()

        async def __call__(self, request: Request) -> Response:
            rows = json.loads(await request.body())["data"]
            preds = self.booster.inplace_predict(np.asarray(rows, dtype=np.float64)[:, 1:])
            return Response(answer(rows, preds), media_type="application/json")

    @serve.deployment(name="Minimal")
    class MinimalBatched:
        def __init__(self) -> None:
            self.booster = load()

        @serve.batch(max_batch_size=max(batch, 1), batch_wait_timeout_s=wait)
        async def predict(self, bodies: list[bytes]) -> list[bytes]:
            parts = [json.loads(b)["data"] for b in bodies]
            x = np.asarray([r for rows in parts for r in rows], dtype=np.float64)[:, 1:]
            preds = self.booster.inplace_predict(x)
            out, at = [], 0
            for rows in parts:
                out.append(answer(rows, preds[at : at + len(rows)]))
                at += len(rows)
            return out

        async def __call__(self, request: Request) -> Response:
            body: bytes = await self.predict(await request.body())
            return Response(body, media_type="application/json")

    deployment: Any = MinimalBatched if batch else Minimal
    return deployment.bind()
