"""Fixtures: tiny trained models (once per session) and servers that are always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.serving.helpers import Server, free_port, make_lightgbm, make_xgboost


@pytest.fixture(scope="session")
def xgb_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    model_dir = tmp_path_factory.mktemp("xgb")
    return model_dir, make_xgboost(model_dir)


@pytest.fixture(scope="session")
def lgb_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    model_dir = tmp_path_factory.mktemp("lgb")
    return model_dir, make_lightgbm(model_dir)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers for one test; every one is stopped at the end, pass or fail."""
    started: list[Server] = []

    def start(model_dir: Path, port: int | None = None, **kwargs: Any) -> Server:
        server = Server(model_dir, port if port is not None else free_port(), **kwargs)
        started.append(server)
        return server.start(tmp_path)

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def xgb_server(
    xgb_model: tuple[Path, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """One shared 2-worker server for the tests that only send requests: at most 1000 rows per
    request, at most 300 rows per model call (larger requests are cut)."""
    server = Server(
        xgb_model[0],
        free_port(),
        workers=2,
        max_queue=16,
        extra=["--max-request-rows", "1000", "--max-batch-rows", "300"],
    )
    try:
        server.start(tmp_path_factory.mktemp("xgb-server"))
        yield server
    finally:
        server.stop()
