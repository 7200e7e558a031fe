"""`mlrt import` of what the local provider runs (issue 14 item 7: a healthy service and a
finished training could not be imported). Real processes, a real /health endpoint, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mlrt_iac.provider import ProviderContext
from providers.kit.processes import ProcessRef
from providers.local import LocalProvider
from tests.unit.providers_local.conftest import free_port


def test_a_running_service_is_imported_with_its_endpoint(
    ctx: ProviderContext,
    make_provider: Callable[..., LocalProvider],
    server: tuple[int, int],
) -> None:
    pid, port = server
    d = ctx.data_dir / "services" / "churn"
    d.mkdir(parents=True)
    record = {"port": port, "pids": [ProcessRef.of(pid).to_json()], "generation": 1}
    (d / "processes.json").write_text(json.dumps(record))
    handler = make_provider().handler("service")
    assert handler is not None
    got = handler.import_(ctx.for_resource("service.churn"), "churn").attributes
    assert got is not None
    assert got["endpoint"] == f"http://127.0.0.1:{port}" and got["status"] == "READY"
    assert handler.import_(ctx.for_resource("service.other"), "other").attributes is None


def test_a_stopped_service_is_not_imported(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider]
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    d = ctx.data_dir / "services" / "churn"
    d.mkdir(parents=True)
    (d / "processes.json").write_text(json.dumps({"port": free_port(), "pids": [dead.pid], "generation": 1}))
    handler = make_provider().handler("service")
    assert handler is not None
    assert handler.import_(ctx.for_resource("service.churn"), "churn").attributes is None


def test_a_finished_training_is_imported_from_its_model(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider]
) -> None:
    run = "churn-20261129-000000-abcdef"
    model = ctx.data_dir / "models" / "churn" / run
    model.mkdir(parents=True)
    meta = {"metrics": {"auc": 0.9}, "input_fingerprint": "fp1", "created_at": "2026-11-29T00:00:00Z"}
    (model / "metadata.json").write_text(json.dumps(meta))
    handler = make_provider().handler("training")
    assert handler is not None
    got = handler.import_(ctx.for_resource("training.churn"), run).attributes
    assert got == {
        "run_id": run,
        "status": "SUCCEEDED",
        "metrics": {"auc": 0.9},
        "model_uri": str(model),
        "input_fingerprint": "fp1",
        "started_at": None,
        "finished_at": "2026-11-29T00:00:00Z",
        "versions": [{"id": run, "model_uri": str(model), "created_at": "2026-11-29T00:00:00Z"}],
    }
    for missing in ("churn-none", "../models", ""):
        assert handler.import_(ctx.for_resource("training.churn"), missing).attributes is None
    assert Path(got["model_uri"]).is_dir()


def test_a_model_written_before_versions_is_imported_from_the_flat_folder(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider]
) -> None:
    run = "churn-20251129-000000-abcdef"
    model = ctx.data_dir / "models" / run  # where mlrt wrote models before versions
    model.mkdir(parents=True)
    (model / "metadata.json").write_text(json.dumps({"created_at": "2025-11-29T00:00:00Z"}))
    handler = make_provider().handler("training")
    assert handler is not None
    got = handler.import_(ctx.for_resource("training.churn"), run).attributes
    assert got is not None and got["model_uri"] == str(model)
