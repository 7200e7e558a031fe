"""The bundled examples applied and destroyed through the real CLI, each from a temporary copy
(issue 14: examples/multi-team could not be applied on a 2-core machine, and only rendered in
the tests). The quickstart runs in test_local_ml.py, the ray example in
ray/test_examples_ray.py, gitops (Kubernetes) is rendered and validated in
tests/k8s/test_examples.py."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq

from tests.e2e.helpers import process_alive, read_state, run_mlrt

REPO = Path(__file__).resolve().parents[2]


def copy_examples(tmp_path: Path) -> Path:
    """The examples folder as a user copies it: `cp -r examples` (state and caches left out)."""
    dest = tmp_path / "examples"
    shutil.copytree(REPO / "examples", dest, ignore=shutil.ignore_patterns(".mlrt"))
    return dest


def _predict(endpoint: str, rows: list[list[float]]) -> list[list[float]]:
    body = json.dumps({"data": [[i, *r] for i, r in enumerate(rows)]}).encode()
    req = urllib.request.Request(endpoint + "/predict", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return list(json.loads(resp.read())["data"])


def _service_pids(project: Path, name: str) -> list[object]:
    return list(json.loads((project / ".mlrt" / "services" / name / "processes.json").read_text())["pids"])


def _pid(entry: object) -> int:
    return int(entry["pid"]) if isinstance(entry, dict) else int(str(entry))


def test_multi_team_applies_serves_both_teams_and_destroys(tmp_path: Path) -> None:
    project = copy_examples(tmp_path) / "multi-team"
    pids: list[int] = []
    try:
        applied = run_mlrt(project, "apply", "-auto-approve", timeout=300)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "Apply complete! Resources: 12 added, 0 changed, 0 destroyed." in applied.stdout
        assert "waiting for capacity" not in applied.stdout  # sized for this machine

        endpoints = json.loads(run_mlrt(project, "output", "-json", "endpoints", check=True).stdout)
        assert sorted(endpoints) == ["fraud", "recsys"]
        pools = json.loads(run_mlrt(project, "output", "-json", "pools", check=True).stdout)
        assert pools == {"fraud": "fraud-pool", "recsys": "recsys-pool"}
        table = pq.read_table(project / "data" / "eval.parquet").slice(0, 50)
        cols = [c for c in table.column_names if c != "label"]
        rows = [list(r) for r in zip(*(table.column(c).to_pylist() for c in cols), strict=True)]
        labels = table.column("label").to_pylist()
        for team, endpoint in endpoints.items():
            answers = sorted(_predict(endpoint, rows))
            assert [a[0] for a in answers] == list(range(len(rows))), team
            hits = sum((a[1] > 0.5) == bool(y) for a, y in zip(answers, labels, strict=True))
            assert hits >= 40, (team, hits)  # a trained model, not a constant

        again = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color")
        assert again.returncode == 0, again.stdout + again.stderr
        state = {r["address"]: r for r in read_state(project)["resources"]}
        pids = [_pid(p) for team in endpoints for p in _service_pids(project, f"{team}-api")]
        assert pids and all(process_alive(p) for p in pids)
        family = state['module.team["fraud"].compute_pool.pool']["attributes"]["instance_family"]
        assert family == "CPU_X64_XS"
    finally:
        destroyed = run_mlrt(project, "destroy", "-auto-approve", timeout=300)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "Destroy complete! Resources: 12 destroyed." in destroyed.stdout
    assert read_state(project)["resources"] == []
    assert not any(process_alive(p) for p in pids)
