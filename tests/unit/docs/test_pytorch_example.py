"""The runtime guide's PyTorch example (docs/examples/pytorch/) works as the guide says: make the
data, `mlrt apply`, ask the service, `mlrt destroy`, on a temporary copy (nothing is written
into the source tree)."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.helpers import read_state, run_mlrt

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "pytorch"


@pytest.mark.slow
def test_pytorch_example_trains_serves_and_is_destroyed(tmp_path: Path) -> None:
    import torch

    project = tmp_path / "pytorch"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("data", ".mlrt", "__pycache__"))
    subprocess.run([sys.executable, "make_data.py", "--rows", "2000"], cwd=project, check=True)
    try:
        applied = run_mlrt(project, "apply", "-auto-approve", "-no-color", "-var", "epochs=2", timeout=300)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        state = {r["address"]: r["attributes"] for r in read_state(project)["resources"]}
        assert math.isfinite(state["training.net"]["metrics"]["eval_mse"])

        # the service answers what the saved weights compute, in the service-function format
        model_dir = Path(state["training.net"]["model_uri"])
        assert json.loads((model_dir / "metadata.json").read_text())["input_cols"] == ["x0", "x1", "x2", "x3"]
        # By path, under a name of its own: another test's `net` module may already be imported.
        spec = importlib.util.spec_from_file_location("docs_example_net", project / "net.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        Net = module.Net
        net = Net()
        net.load_state_dict(torch.load(model_dir / "model.pt", weights_only=True))
        rows = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.5, -1.0]]
        with torch.no_grad():
            expected = net(torch.tensor(rows)).tolist()
        url = run_mlrt(project, "output", "-raw", "predict_url", check=True).stdout.strip()
        body = json.dumps({"data": [[i, *r] for i, r in enumerate(rows)]}).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=30) as r:
            answer = json.loads(r.read())
        assert [row[0] for row in answer["data"]] == [0, 1]
        np.testing.assert_allclose([row[1] for row in answer["data"]], expected, rtol=1e-5)
    finally:
        destroyed = run_mlrt(project, "destroy", "-auto-approve", "-no-color", timeout=180)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert read_state(project)["resources"] == []
