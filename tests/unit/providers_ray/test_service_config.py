"""The Serve application config the ray provider PUTs for a service (no cluster needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import ProviderContext
from providers.ray import RayProvider
from providers.ray.service import BATCH_SIZE, MIN_ONGOING, ServiceHandler, replica_limit


def handler(replica_cpus: float = 1.0) -> ServiceHandler:
    provider = RayProvider()
    provider.replica_cpus = replica_cpus
    h = provider.handler("service")
    assert isinstance(h, ServiceHandler)
    return h


def model_dir(root: Path) -> Path:
    d = root / "model"
    d.mkdir()
    (d / "metadata.json").write_text(json.dumps({"framework": "xgboost"}))
    return d


def desired(model: Path, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": str(model),
        "num_workers": 2,
        "max_instances": 1,
        "max_queue": 8,
        "gpu_requests": 0,
        "functions": ["predict", "predict_proba"],
    }
    return {**base, **over}


def app(tmp_path: Path, h: ServiceHandler | None = None, **over: Any) -> dict[str, Any]:
    ctx = ProviderContext(tmp_path, tmp_path / ".mlrt", "service.churn")
    return (h or handler())._app(ctx, "churn", desired(model_dir(tmp_path), **over))


@pytest.mark.parametrize(
    ("workers", "queue", "replicas", "limit"),
    [
        (2, 8, 1, MIN_ONGOING),  # the schema's default queue (4 x workers): the floor
        (2, 256, 1, 258),  # one replica holds the whole queue plus its workers' requests
        (2, 256, 2, 130),  # two share it
        (1, 100, 3, 35),  # ceil(100 / 3) + 1
        (4, 0, 1, MIN_ONGOING),
    ],
)
def test_replica_limit(workers: int, queue: int, replicas: int, limit: int) -> None:
    assert replica_limit(workers, queue, replicas) == limit


def test_min_ongoing_is_past_the_router_back_off_regime() -> None:
    # bench/ray_overhead.py: 8 per replica served a quarter of what 32 served (32 clients).
    assert MIN_ONGOING >= 32


def test_deployment_options(tmp_path: Path) -> None:
    cfg = app(tmp_path, handler(replica_cpus=0.5), max_instances=2, max_queue=64, num_workers=3)
    assert cfg["name"] == "churn"
    assert cfg["route_prefix"] == "/churn"
    assert cfg["import_path"] == "mlrt_iac.runtime.ray_entry:build_app"
    assert cfg["args"] == {
        "model_uri": str(tmp_path / "model"),
        "functions": ["predict", "predict_proba"],
        "batch_size": BATCH_SIZE,
    }
    assert BATCH_SIZE > 1  # @serve.batch on: the hand-written deployment's best settings batch
    assert cfg["deployments"] == [
        {
            "name": "MlrtModel",
            "num_replicas": 2,
            "max_ongoing_requests": 3 + 32,
            "max_queued_requests": 64,
            "ray_actor_options": {"num_cpus": 0.5},
        }
    ]


def test_defaults_do_not_starve_the_router(tmp_path: Path) -> None:
    (dep,) = app(tmp_path)["deployments"]
    assert dep["max_ongoing_requests"] == MIN_ONGOING
    assert dep["max_queued_requests"] == 8
    assert dep["num_replicas"] == 1


def test_gpus_and_batch_rows(tmp_path: Path) -> None:
    cfg = app(tmp_path, gpu_requests=1, max_batch_rows=500, max_request_bytes=4096)
    assert cfg["deployments"][0]["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 1}
    assert cfg["args"]["max_batch_rows"] == 500
    assert cfg["args"]["max_body_bytes"] == 4096  # the replica answers 413 beyond
    other = tmp_path / "other"
    other.mkdir()
    assert "max_body_bytes" not in app(other)["args"]  # the server's default, 64 MiB


def test_missing_model_is_permanent(tmp_path: Path) -> None:
    ctx = ProviderContext(tmp_path, tmp_path / ".mlrt", "service.churn")
    with pytest.raises(PermanentError, match="No model"):
        handler()._app(ctx, "churn", desired(tmp_path / "nowhere"))


def test_model_class_and_the_project_dir_reach_the_replicas(tmp_path: Path) -> None:
    args = app(tmp_path, model_class="net:Net")["args"]
    assert args["model_class"] == "net:Net" and args["project_dir"] == str(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    args = app(plain)["args"]
    assert "model_class" not in args and "project_dir" not in args
