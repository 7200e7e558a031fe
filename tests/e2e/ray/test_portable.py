"""Workloads carry their code (issue 10): the quickstart, unchanged but for the line that picks
the provider, applies on a Ray cluster whose Python has Ray and XGBoost but not mlrt, attached
by address, with mlrt itself run from an environment whose PATH has no virtual environment.

The cluster's Python is a virtual environment over this one (`--system-site-packages`, so no
download) in which a `.pth` hook hides every folder holding mlrt's engine (and the editable
install's finder) from imports; the test first proves `import mlrt_iac` fails there. Its
cluster is started with that Python and PATH=/usr/bin:/bin (no `python` at all), on its own
ports and temp dir, and stopped by its own processes (never `ray stop`, which would end every
cluster on the machine). The training's job and the Serve application then import mlrt's
runtime only from what their runtime_env ships."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from providers.ray import cluster
from tests.e2e.helpers import read_state

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[3]
BARE_PATH = "/usr/bin:/bin"

HIDE = '''"""Hides mlrt from this environment: a stand-in for a Python that never installed it."""
import sys
from importlib.machinery import PathFinder
from pathlib import Path

NAMES = ("mlrt_iac", "providers", "state", "clients")


def _has_engine(entry):
    # mlrt's checkout or install, not the runtime alone that Ray ships as py_modules
    return bool(entry) and (Path(entry) / "mlrt_iac" / "provider.py").exists()


class HideMlrt:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname not in NAMES:
            return None
        spec = PathFinder.find_spec(fullname, [p for p in sys.path if p and not _has_engine(p)])
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return spec


sys.meta_path.insert(0, HideMlrt)
'''


def _venv_without_mlrt(root: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(root)], check=True
    )
    (site,) = root.glob("lib/python*/site-packages")
    (site / "_hide_mlrt.py").write_text(HIDE)
    (site / "_hide_mlrt.pth").write_text("import _hide_mlrt\n")
    return root / "bin" / "python"


def _bare_env(**extra: str) -> dict[str, str]:
    return {"HOME": os.environ.get("HOME", "/root"), "PATH": BARE_PATH, "NO_COLOR": "1", **extra}


def _mlrt(project: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """mlrt as an unactivated virtual environment runs it: no PATH to its interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "mlrt_iac.cli.main", "-chdir", str(project), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_bare_env(PYTHONPATH=str(REPO)),
        stdin=subprocess.DEVNULL,
    )


def _predict_and_check(project: Path) -> None:
    """One prediction from the service equals the trained booster's."""
    import xgboost as xgb

    out = _mlrt(project, "output", "-raw", "endpoint", timeout=60)
    assert out.returncode == 0, out.stderr
    endpoint = out.stdout.strip()
    table = pq.read_table(project / "data" / "eval.parquet").slice(0, 3)
    x = np.column_stack([table.column(c).to_numpy() for c in table.column_names if c != "label"])
    resp = httpx.post(
        endpoint + "/predict", json={"data": [[i, *map(float, r)] for i, r in enumerate(x)]}, timeout=30
    )
    assert resp.status_code == 200, resp.text
    training = next(r for r in read_state(project)["resources"] if r["address"] == "training.churn")
    booster = xgb.Booster()
    booster.load_model(str(Path(training["attributes"]["model_uri"]) / "model.ubj"))
    np.testing.assert_allclose(
        [row[1] for row in resp.json()["data"]],
        booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names)),
        rtol=1e-6,
    )


def test_quickstart_on_a_ray_cluster_without_mlrt(tmp_path: Path) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", project, ignore=shutil.ignore_patterns(".mlrt"))

    # (The same files on the local provider, as they are: tests/e2e/test_local_ml.py and the
    # README's quickstart command in CI.)
    # a Ray cluster from a Python that cannot import mlrt
    python = _venv_without_mlrt(tmp_path / "venv")
    probe = subprocess.run(
        [str(python), "-c", "import mlrt_iac"], capture_output=True, text=True, cwd=tmp_path, env=_bare_env()
    )
    assert probe.returncode == 1 and "ModuleNotFoundError: No module named 'mlrt_iac'" in probe.stderr, probe
    assert subprocess.run([str(python), "-c", "import ray, xgboost"], env=_bare_env()).returncode == 0
    rec = cluster.new_record("no-mlrt", tmp_path, cluster.NodeSize(cpus=2, gpus=0, memory_gib=3))
    try:
        with open(tmp_path / "ray-start.log", "wb") as log:
            started = subprocess.run(
                [str(python), "-m", "ray.scripts.scripts", "start", *cluster.head_args(rec)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
                env=_bare_env(RAY_USAGE_STATS_ENABLED="0"),
                timeout=cluster.START_TIMEOUT,
            )
        assert started.returncode == 0, (tmp_path / "ray-start.log").read_text()[-3000:]

        # the same files plus the line that picks the provider (and the cluster to attach to)
        (project / "on_ray.hcl").write_text(
            'mlrt {\n  default_provider = "ray"\n}\n\n'
            f'provider "ray" {{\n  address    = "{rec.dashboard_url}"\n  serve_port = {cluster.free_port()}\n}}\n'
        )
        out = _mlrt(project, "apply", "-auto-approve")
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-3000:]
        assert "Resources: 7 added" in out.stdout and f"submitted to {rec.dashboard_url}" in out.stdout
        _predict_and_check(project)

        # what the job and the application carried: mlrt's runtime as a Ray package
        run_id = next(r for r in read_state(project)["resources"] if r["address"] == "training.churn")["id"]
        job = httpx.get(f"{rec.dashboard_url}/api/jobs/{run_id}", timeout=10).json()
        assert job["status"] == "SUCCEEDED"
        assert job["runtime_env"]["py_modules"][0].startswith("gcs://_ray_pkg_"), job["runtime_env"]
        apps = httpx.get(f"{rec.dashboard_url}/api/serve/applications/", timeout=10).json()["applications"]
        app_env = apps["churn"]["deployed_app_config"]["runtime_env"]
        assert app_env["py_modules"][0] == job["runtime_env"]["py_modules"][0]  # uploaded once

        out = _mlrt(project, "destroy", "-auto-approve")
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    finally:
        cluster.stop(rec)
    assert not cluster.cluster_pids(rec)
