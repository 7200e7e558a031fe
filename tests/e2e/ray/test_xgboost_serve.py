"""examples/ray (XGBoost on Ray Train, 2 workers, served on Ray Serve) through the real CLI, from
a temporary copy of the examples folder, against the session's Ray cluster (`ray_address`); drift
of the job and of the Serve application is seen by plan and repaired by apply; max_instances is an
in-place, no-failed-request update; destroy removes the application, the job and the model. Ray's
own C++ log lines (core_worker.cc) stay out of apply's output (issue 14)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from providers.local.service import free_port
from tests.e2e.helpers import read_state
from tests.e2e.helpers import run_mlrt as _run_mlrt

pytestmark = pytest.mark.ray


REPO = Path(__file__).resolve().parents[3]
GLOG_LINE = re.compile(r"\] \S+\.(cc|h):\d+:")  # [... E 10623 10731] core_worker.cc:2465: ...


def _project(tmp_path: Path) -> Path:
    """The ray example as a user copies it (`cp -r examples`): it reads ../quickstart/data."""
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns(".mlrt"))
    return tmp_path / "examples" / "ray"


def _set_instances(project: Path, instances: int) -> None:
    main = project / "main.hcl"
    text, n = re.subn(r"max_instances = \d+", f"max_instances = {instances}", main.read_text())
    assert n == 1
    main.write_text(text)


def _resource(project: Path, address: str) -> dict:
    for r in read_state(project)["resources"]:
        if r["address"] == address:
            return dict(r)
    raise AssertionError(f"{address} not in state")


def _eval_rows() -> tuple[list[list[float]], np.ndarray]:
    table = pq.read_table(REPO / "examples" / "quickstart" / "data" / "eval.parquet").slice(0, 50)
    x = np.column_stack([table.column(c).to_numpy() for c in table.column_names if c != "label"])
    return [[i, *map(float, row)] for i, row in enumerate(x)], x


def _predict(endpoint: str, rows: list[list[float]]) -> np.ndarray:
    resp = httpx.post(endpoint + "/predict", json={"data": rows}, timeout=30)
    assert resp.status_code == 200, resp.text
    return np.array([r[1] for r in resp.json()["data"]])


def _delete_app_out_of_band(dashboard: str, name: str) -> None:
    cur = httpx.get(dashboard + "/api/serve/applications/", timeout=10).json()
    apps = [d["deployed_app_config"] for n, d in cur["applications"].items() if n != name]
    resp = httpx.put(
        dashboard + "/api/serve/applications/",
        timeout=30,
        json={"http_options": cur["http_options"], "applications": apps},
    )
    assert resp.status_code == 200, resp.text


def test_train_serve_drift_update_destroy(tmp_path: Path, dashboard: str) -> None:
    import xgboost as xgb

    serve_port = free_port()
    project = _project(tmp_path)
    env = {"MLRT_VAR_ray_address": dashboard, "MLRT_VAR_serve_port": str(serve_port), "MLRT_VAR_rounds": "15"}

    def run_mlrt(project: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return _run_mlrt(project, *args, env=env, **kw)

    out = run_mlrt(project, "apply", "-auto-approve", timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "submitted to " + dashboard in out.stdout
    noise = [line for line in (out.stdout + out.stderr).splitlines() if GLOG_LINE.search(line)]
    assert noise == [], noise[:5]

    training = _resource(project, "training.churn")["attributes"]
    run_id = training["run_id"]
    assert training["status"] == "SUCCEEDED"
    assert 0 < training["metrics"]["eval-logloss"] < 0.6
    assert training["metrics"]["num_boosted_rounds"] == 15
    job = httpx.get(f"{dashboard}/api/jobs/{run_id}", timeout=10).json()
    assert job["status"] == "SUCCEEDED"  # the run id is the Ray job id

    # The service answers exactly what the booster predicts.
    endpoint = run_mlrt(project, "output", "-raw", "endpoint", check=True).stdout.strip()
    assert endpoint == f"http://127.0.0.1:{serve_port}/churn"
    rows, x = _eval_rows()
    booster = xgb.Booster()
    booster.load_model(str(Path(training["model_uri"]) / "model.ubj"))
    np.testing.assert_allclose(
        _predict(endpoint, rows),
        booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names)),
        rtol=1e-6,
    )
    assert httpx.get(endpoint + "/health", timeout=10).json()["status"] == "ok"

    # mlrt logs: the job's log with mlrt's progress lines readable, the replicas' Serve logs
    logs = run_mlrt(project, "logs", "training.churn", "-no-color", timeout=120)
    assert logs.returncode == 0, logs.stderr
    assert "[job] " in logs.stdout and "[mlrt] step 15/15" in logs.stdout, logs.stdout[-2000:]
    assert "@@mlrt-event@@" not in logs.stdout and "\x1b[" not in logs.stdout
    replica_log = run_mlrt(project, "logs", "service.churn", "-json", timeout=120)
    assert replica_log.returncode == 0, replica_log.stderr
    replica_lines = [json.loads(line) for line in replica_log.stdout.splitlines()]
    assert {line["source"] for line in replica_lines} == {"replica 0"}
    assert any("POST /churn 200" in line["text"] for line in replica_lines), replica_lines[-5:]
    no_such = run_mlrt(project, "logs", "service.churn", "-instance", "7", timeout=120)
    assert no_such.returncode == 1 and "has no replica 7" in no_such.stderr

    # Drift: the job deleted and the application deleted behind mlrt's back.
    assert httpx.delete(f"{dashboard}/api/jobs/{run_id}", timeout=10).status_code == 200
    _delete_app_out_of_band(dashboard, "churn")
    plan = run_mlrt(project, "plan", "-detailed-exitcode", timeout=120)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "training.churn" in plan.stdout and "service.churn" in plan.stdout
    out = run_mlrt(project, "apply", "-auto-approve", timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    new_run = _resource(project, "training.churn")["attributes"]["run_id"]
    assert new_run != run_id
    assert run_mlrt(project, "plan", "-detailed-exitcode", timeout=120).returncode == 0
    model_uri = _resource(project, "training.churn")["attributes"]["model_uri"]
    booster.load_model(str(Path(model_uri) / "model.ubj"))
    np.testing.assert_allclose(
        _predict(endpoint, rows),
        booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names)),
        rtol=1e-6,
    )

    # max_instances 1 -> 2 is an in-place update, and no request fails while Serve rolls over.
    _set_instances(project, 2)
    plan = run_mlrt(project, "plan", "-no-color", timeout=120)
    assert "1 to change" in plan.stdout and "0 to add" in plan.stdout, plan.stdout
    failures: list[str] = []
    done = threading.Event()
    served = [0]

    def load() -> None:
        with httpx.Client(timeout=30) as c:
            while not done.is_set():
                r = c.post(endpoint + "/predict", json={"data": rows[:5]})
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                served[0] += 1

    thread = threading.Thread(target=load)
    thread.start()
    try:
        out = run_mlrt(project, "apply", "-auto-approve", timeout=300)
    finally:
        done.set()
        thread.join()
    assert out.returncode == 0, out.stdout + out.stderr
    assert served[0] > 0 and not failures, failures[:3]
    app = httpx.get(dashboard + "/api/serve/applications/", timeout=10).json()["applications"]["churn"]
    assert app["deployed_app_config"]["deployments"][0]["num_replicas"] == 2

    out = run_mlrt(project, "destroy", "-auto-approve", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    apps = httpx.get(dashboard + "/api/serve/applications/", timeout=10).json()["applications"]
    assert "churn" not in apps
    assert httpx.get(f"{dashboard}/api/jobs/{new_run}", timeout=10).status_code == 404
    assert not Path(model_uri).exists()
