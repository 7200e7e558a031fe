"""Trainings and services on the local provider, for real: `mlrt apply` trains and serves."""

from __future__ import annotations

import json
import os
import shutil
import signal
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from .helpers import process_alive, read_state, run_mlrt, spawn_mlrt

REPO = Path(__file__).resolve().parents[2]


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _service_pids(project: Path, name: str) -> list[int]:
    data = json.loads((project / ".mlrt" / "services" / name / "processes.json").read_text())
    return [p["pid"] if isinstance(p, dict) else int(p) for p in data["pids"]]


@pytest.fixture()
def quickstart(tmp_path: Path) -> Any:
    project = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", project, ignore=shutil.ignore_patterns(".mlrt"))
    yield project
    run_mlrt(project, "destroy", "-auto-approve", timeout=120)


def test_quickstart_trains_serves_and_converges(quickstart: Path) -> None:
    applied = run_mlrt(quickstart, "apply", "-auto-approve", timeout=600)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete! Resources: 7 added" in applied.stdout
    state = {r["address"]: r for r in read_state(quickstart)["resources"]}
    training = state["training.churn"]["attributes"]
    assert training["status"] == "SUCCEEDED"
    assert training["metrics"]["eval-logloss"] < 0.5
    endpoint = state["service.churn"]["attributes"]["endpoint"]
    assert endpoint == run_mlrt(quickstart, "output", "-raw", "endpoint").stdout

    # The service answers exactly what the booster predicts, for 100 rows.
    import xgboost as xgb

    table = pq.read_table(quickstart / "data" / "eval.parquet").slice(0, 100)
    meta = json.loads((Path(training["model_uri"]) / "metadata.json").read_text())
    cols = meta["input_cols"]
    x = np.column_stack([table.column(c).to_numpy() for c in cols])
    booster = xgb.Booster()
    booster.load_model(str(Path(training["model_uri"]) / meta["model_file"]))
    expected = booster.predict(xgb.DMatrix(x, feature_names=cols))
    code, body = _post(endpoint + "/predict", {"data": [[i, *row] for i, row in enumerate(x.tolist())]})
    assert code == 200
    got = np.array([r[1] for r in sorted(body["data"])])
    np.testing.assert_allclose(got, expected, rtol=1e-6)

    # Nothing changed: nothing re-runs.
    again = run_mlrt(quickstart, "plan", "-detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr

    # A killed server is drift: FAILED with its cause, not deleted; the next apply starts it
    # again in place, on the same endpoint.
    for pid in _service_pids(quickstart, "churn"):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(process_alive(p) for p in _service_pids(quickstart, "churn")) and time.monotonic() < deadline:
        time.sleep(0.05)
    drift = run_mlrt(quickstart, "plan", "-detailed-exitcode")
    assert drift.returncode == 2
    assert "service.churn has changed" in drift.stdout and "has been deleted" not in drift.stdout
    assert 'status = "READY" -> "FAILED"' in drift.stdout
    assert "service.churn will be updated in-place" in drift.stdout
    assert "restarts the failed service" in drift.stdout
    repaired = run_mlrt(quickstart, "apply", "-auto-approve", timeout=300)
    assert repaired.returncode == 0, repaired.stderr
    assert "0 added, 1 changed, 0 destroyed" in repaired.stdout
    new_endpoint = run_mlrt(quickstart, "output", "-raw", "endpoint").stdout
    assert new_endpoint == endpoint
    assert _post(new_endpoint + "/predict", {"data": [[0, *x[0].tolist()]]})[0] == 200

    # Changing num_workers is a rolling replacement: no request fails during the switch.
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()
    row = {"data": [[0, *x[0].tolist()]]}

    def client() -> None:
        while not stop.is_set():
            try:
                code, _ = _post(new_endpoint + "/predict", row)
                if code == 200:
                    answered[0] += 1
                else:
                    failures.append(str(code))
            except OSError as exc:
                failures.append(repr(exc))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for t in clients:
        t.start()
    try:
        main_hcl = quickstart / "main.hcl"
        main_hcl.write_text(main_hcl.read_text().replace("num_workers  = 2", "num_workers  = 1"))
        rolled = run_mlrt(quickstart, "apply", "-auto-approve", timeout=300)
    finally:
        stop.set()
        for t in clients:
            t.join()
    assert rolled.returncode == 0, rolled.stderr
    assert "0 added, 1 changed, 0 destroyed" in rolled.stdout
    assert failures == [] and answered[0] > 50, (failures[:5], answered[0])
    assert run_mlrt(quickstart, "output", "-raw", "endpoint").stdout == new_endpoint

    # mlrt logs: the training's workers, the service's current instances, filtered and followed
    logs = run_mlrt(quickstart, "logs", "training.churn")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.startswith("[rank 0] ") and "step 1/" in logs.stdout, logs.stdout[:500]
    served = run_mlrt(quickstart, "logs", "service.churn", "-instance", "0", "-tail", "1", "-json")
    assert served.returncode == 0, served.stderr
    (line,) = [json.loads(x) for x in served.stdout.splitlines()]
    # the current generation's instance: the one rolled to num_workers = 1 above
    assert line["source"] == "instance 0" and "ready" in line["text"] and "(1 workers" in line["text"], line
    follower = spawn_mlrt(quickstart, "logs", "service.churn", "-f")
    try:
        assert follower.stdout is not None
        assert "ready" in follower.stdout.readline()
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 0, follower.stderr.read() if follower.stderr else ""
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()

    # Touching the data changes nothing (a fresh clone neither); changing its content re-trains,
    # and the plan says why.
    data = quickstart / "data" / "train.parquet"
    os.utime(data, (time.time() + 5, time.time() + 5))
    touched = run_mlrt(quickstart, "plan", "-no-color", "-detailed-exitcode")
    assert touched.returncode == 0 and "No changes" in touched.stdout, touched.stdout
    table = pq.read_table(data)
    pq.write_table(table.slice(0, table.num_rows - 10), data)
    retrain = run_mlrt(quickstart, "plan", "-no-color")
    assert "training.churn will be updated in-place" in retrain.stdout
    assert "# new model version: data/train.parquet changed" in retrain.stdout

    pids = _service_pids(quickstart, "churn")
    destroyed = run_mlrt(quickstart, "destroy", "-auto-approve", timeout=120)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not any(process_alive(p) for p in pids)
    assert not Path(training["model_uri"]).exists()


LGBM = """
compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

training "lgbm" {
  compute_pool = compute_pool.cpu
  framework    = "lightgbm"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "label"
  }

  dataset "eval" {
    source    = "data/eval.parquet"
    label_col = "label"
  }

  params = {
    objective     = "binary"
    num_leaves    = 15
    learning_rate = 0.2
    verbose       = -1
  }
  num_boost_round = 20
}

service "lgbm" {
  compute_pool = compute_pool.cpu
  model        = training.lgbm.model_uri
  num_workers  = 1
}
"""


def test_lightgbm_end_to_end(tmp_path: Path) -> None:
    project = tmp_path / "lgbm"
    (project / "data").mkdir(parents=True)
    for f in ("train.parquet", "eval.parquet"):
        shutil.copy(REPO / "examples" / "quickstart" / "data" / f, project / "data" / f)
    (project / "main.hcl").write_text(LGBM)
    try:
        res = run_mlrt(project, "apply", "-auto-approve", timeout=600)
        assert res.returncode == 0, res.stdout + res.stderr
        state = {r["address"]: r for r in read_state(project)["resources"]}
        uri = Path(state["training.lgbm"]["attributes"]["model_uri"])
        import lightgbm as lgb

        meta = json.loads((uri / "metadata.json").read_text())
        booster = lgb.Booster(model_file=str(uri / meta["model_file"]))
        table = pq.read_table(project / "data" / "eval.parquet").slice(0, 50)
        x = np.column_stack([table.column(c).to_numpy() for c in meta["input_cols"]])
        code, body = _post(
            state["service.lgbm"]["attributes"]["endpoint"] + "/predict",
            {"data": [[i, *row] for i, row in enumerate(x.tolist())]},
        )
        assert code == 200
        np.testing.assert_allclose([r[1] for r in sorted(body["data"])], booster.predict(x), rtol=1e-6)
    finally:
        run_mlrt(project, "destroy", "-auto-approve", timeout=120)


VERSIONED = """
variable "objective" {
  default = "binary:logistic"
}

variable "max_depth" {
  default = 3
}

compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

training "churn" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "label"
  }

  params = {
    objective = var.objective
    max_depth = var.max_depth
  }
  num_boost_round = 8
}

service "churn" {
  compute_pool = compute_pool.cpu
  model        = training.churn.model_uri
  num_workers  = 1
}
"""


@pytest.fixture()
def versioned(tmp_path: Path) -> Any:
    project = tmp_path / "versioned"
    (project / "data").mkdir(parents=True)
    for f in ("train.parquet", "eval.parquet"):
        shutil.copy(REPO / "examples" / "quickstart" / "data" / f, project / "data" / f)
    (project / "main.hcl").write_text(VERSIONED)
    yield project
    run_mlrt(project, "destroy", "-auto-approve", timeout=120)


def _predictions(project: Path, model_uri: str) -> tuple[list[list[Any]], Any]:
    """Rows of eval.parquet in the service format, and what the booster at `model_uri` says."""
    import xgboost as xgb

    meta = json.loads((Path(model_uri) / "metadata.json").read_text())
    table = pq.read_table(project / "data" / "eval.parquet").slice(0, 40)
    x = np.column_stack([table.column(c).to_numpy() for c in meta["input_cols"]])
    booster = xgb.Booster()
    booster.load_model(str(Path(model_uri) / meta["model_file"]))
    rows = [[i, *r] for i, r in enumerate(x.tolist())]
    return rows, booster.predict(xgb.DMatrix(x, feature_names=meta["input_cols"]))


def _served(endpoint: str, rows: list[list[Any]]) -> Any:
    code, body = _post(endpoint + "/predict", {"data": rows})
    assert code == 200, body
    return np.array([r[1] for r in sorted(body["data"])])


def _attrs(project: Path) -> dict[str, dict[str, Any]]:
    return {r["address"]: r["attributes"] for r in read_state(project)["resources"]}


def test_a_failed_retrain_leaves_the_service_on_the_previous_version(versioned: Path) -> None:
    first = run_mlrt(versioned, "apply", "-auto-approve", timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    before = _attrs(versioned)
    v1 = before["training.churn"]["model_uri"]
    assert Path(v1).parent == versioned / ".mlrt" / "models" / "churn"
    endpoint = before["service.churn"]["endpoint"]
    rows, expected = _predictions(versioned, v1)

    # An objective xgboost does not know: the new run fails after it started.
    failed = run_mlrt(versioned, "apply", "-auto-approve", "-var", "objective=no:such", timeout=600)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Training training.churn failed" in failed.stdout + failed.stderr
    after = _attrs(versioned)
    assert after["training.churn"]["model_uri"] == v1
    assert after["training.churn"]["params"]["objective"] == "binary:logistic"
    assert after["service.churn"]["model"] == v1
    # The failed run left no version; the one in use is untouched and still answers.
    assert sorted(p.name for p in Path(v1).parent.iterdir()) == [Path(v1).name]
    np.testing.assert_allclose(_served(endpoint, rows), expected, rtol=1e-6)

    # The training still needs its run, and the service still rolls once it succeeds.
    plan = run_mlrt(versioned, "plan", "-no-color", "-detailed-exitcode", "-var", "objective=no:such")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "training.churn will be updated in-place" in plan.stdout
    assert "# new model version: params changed" in plan.stdout
    assert "service.churn will be updated in-place" in plan.stdout
    assert run_mlrt(versioned, "plan", "-detailed-exitcode").returncode == 0


def test_a_retrain_rolls_the_service_to_a_new_version_and_keeps_the_old(versioned: Path) -> None:
    first = run_mlrt(versioned, "apply", "-auto-approve", timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    before = _attrs(versioned)
    v1 = before["training.churn"]["model_uri"]
    endpoint = before["service.churn"]["endpoint"]

    retrain = run_mlrt(versioned, "apply", "-auto-approve", "-var", "max_depth=5", timeout=600)
    assert retrain.returncode == 0, retrain.stdout + retrain.stderr
    assert "0 added, 2 changed, 0 destroyed" in retrain.stdout
    after = _attrs(versioned)
    v2 = after["training.churn"]["model_uri"]
    assert v2 != v1 and Path(v2).parent == Path(v1).parent
    assert after["service.churn"]["model"] == v2 and after["service.churn"]["endpoint"] == endpoint
    assert (Path(v1) / "metadata.json").is_file()  # kept: keep_versions defaults to 3
    assert [v["model_uri"] for v in after["training.churn"]["versions"]] == [v1, v2]
    rows, expected = _predictions(versioned, v2)
    _, old = _predictions(versioned, v1)
    assert not np.allclose(expected, old)  # the versions differ, so the answer says which serves
    np.testing.assert_allclose(_served(endpoint, rows), expected, rtol=1e-6)

    shown = run_mlrt(versioned, "state", "show", "training.churn")
    assert shown.returncode == 0, shown.stderr
    versions_line = next(line for line in shown.stdout.splitlines() if line.strip().startswith("versions"))
    assert Path(v1).name in versions_line and Path(v2).name in versions_line
    assert run_mlrt(versioned, "plan", "-detailed-exitcode", "-var", "max_depth=5").returncode == 0

    # mlrt logs shows the latest run's workers (the resource's id stays the first run's)
    shutil.rmtree(versioned / ".mlrt" / "runs" / before["training.churn"]["run_id"])
    logs = run_mlrt(versioned, "logs", "training.churn", "-tail", "1")
    assert logs.returncode == 0 and logs.stdout.startswith("[rank 0] "), logs.stdout + logs.stderr


TRAINER = textwrap.dedent("""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from mlrt_iac.runtime import get_context


    def train():
        ctx = get_context()
        dist.init_process_group(backend="gloo")
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        ddp = DDP(model)
        opt = torch.optim.Adam(ddp.parameters(), lr=float(ctx.get_hyper_params()["lr"]))
        data = ctx.get_dataset_map()["train"].get_shard().to_torch_dataset(batch_size=64, shuffle=True)
        cols = [f"p{i}" for i in range(64)]
        for epoch in range(int(ctx.get_hyper_params()["epochs"])):
            total, n = 0.0, 0
            for batch in data:
                x = torch.stack([batch[c].float() for c in cols], dim=1)
                loss = torch.nn.functional.cross_entropy(ddp(x), batch["label"].long())
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss) * len(x)
                n += len(x)
            ctx.get_metrics_reporter().log_metrics({"epoch": epoch, "loss": total / max(n, 1)})
        if ctx.get_rank() == 0:
            from mlrt_iac.runtime import save_torch_model
            save_torch_model(model)
        dist.destroy_process_group()
""")

TORCH_HCL = """
compute_pool "cpu" {
  instance_family = "CPU_X64_M"
}

training "digits" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "trainer:train"

  dataset "train" {
    source    = "data/digits.parquet"
    label_col = "label"
  }

  hyper_params = {
    lr     = 0.01
    epochs = 4
  }

  scaling {
    num_workers_per_node = 2
  }
}
"""


def test_pytorch_two_processes_over_gloo(tmp_path: Path) -> None:
    import pyarrow as pa
    from sklearn.datasets import load_digits

    project = tmp_path / "digits"
    (project / "data").mkdir(parents=True)
    digits = load_digits()
    table = pa.table({**{f"p{i}": digits.data[:, i] for i in range(64)}, "label": digits.target})
    pq.write_table(table, project / "data" / "digits.parquet")
    (project / "trainer.py").write_text(TRAINER)
    (project / "main.hcl").write_text(TORCH_HCL)
    res = run_mlrt(project, "apply", "-auto-approve", timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    attrs = {r["address"]: r for r in read_state(project)["resources"]}["training.digits"]["attributes"]
    assert (Path(attrs["model_uri"]) / "model.pt2").exists()  # save_torch_model: torch.export
    events = [
        json.loads(line)
        for line in (project / ".mlrt" / "runs" / attrs["run_id"] / "events.jsonl").read_text().splitlines()
    ]
    assert [e for e in events if e["event"] == "started"][0]["world_size"] == 2
    losses = [
        e["metrics"]["loss"] for e in events if e["event"] == "progress" and "loss" in e.get("metrics", {})
    ]
    assert len(losses) >= 4 and losses[-1] < losses[0]
    # Editing the training code re-trains; the plan names the file.
    (project / "trainer.py").write_text(TRAINER + "\n# tuned\n")
    plan = run_mlrt(project, "plan", "-no-color")
    assert "training.digits will be updated in-place" in plan.stdout and "trainer.py" in plan.stdout


GPU_HCL = """
provider "local" {
  instance_family "GPU_BOX" {
    cpus       = 2
    memory_gib = 4
    gpus       = 1
    gpu_type   = "T4"
  }
}

compute_pool "gpu" {
  instance_family = "GPU_BOX"
}

training "t" {
  compute_pool = compute_pool.gpu
  framework    = "xgboost"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "label"
  }

  scaling {
    use_gpu = true
  }
}
"""


def test_use_gpu_without_a_gpu_is_a_plan_error(tmp_path: Path) -> None:
    import shutil as sh

    if sh.which("nvidia-smi"):
        # On a machine with a GPU the same configuration is valid: the check must then pass.
        expect_error = False
    else:
        expect_error = True
    project = tmp_path / "gpu"
    (project / "data").mkdir(parents=True)
    shutil.copy(
        REPO / "examples" / "quickstart" / "data" / "train.parquet", project / "data" / "train.parquet"
    )
    (project / "main.hcl").write_text(GPU_HCL)
    res = run_mlrt(project, "plan", "-no-color")
    if expect_error:
        assert res.returncode == 1, res.stdout + res.stderr
        assert "Error: No GPU on this machine" in res.stderr
        assert "on main.hcl line" in res.stderr
    else:
        assert res.returncode == 0, res.stderr


SLOW_TRAINER = textwrap.dedent("""
    import os
    import time

    from mlrt_iac.runtime import get_context


    def train():
        ctx = get_context()
        first = not os.path.exists("started.txt")
        with open("started.txt", "a") as f:
            f.write("started\\n")
        while first:  # the first run never ends by itself; later runs finish at once
            time.sleep(0.1)
        import torch

        from mlrt_iac.runtime import save_torch_model

        save_torch_model(torch.nn.Linear(1, 1))
""")

SLOW_HCL = """
compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

training "slow" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "slow:train"
}
"""


def test_a_run_left_by_a_killed_apply_is_stopped_by_the_next(tmp_path: Path) -> None:
    from .helpers import spawn_mlrt

    project = tmp_path / "slow"
    project.mkdir()
    (project / "slow.py").write_text(SLOW_TRAINER)
    (project / "main.hcl").write_text(SLOW_HCL)
    try:
        first = spawn_mlrt(project, "apply", "-auto-approve")
        deadline = time.monotonic() + 120
        pid_files: list[Path] = []
        while time.monotonic() < deadline and not (pid_files and (project / "started.txt").exists()):
            pid_files = list((project / ".mlrt" / "runs").glob("slow-*/launcher.pid"))
            time.sleep(0.1)
        assert pid_files and (project / "started.txt").exists(), "the first run never started training"
        leftover = int(pid_files[0].read_text())
        first.kill()
        first.wait()
        assert process_alive(leftover)  # the run outlives mlrt (its own session)...
        second = run_mlrt(project, "apply", "-auto-approve", timeout=300)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "left by an interrupted apply" in second.stdout
        deadline = time.monotonic() + 10
        while process_alive(leftover) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_alive(leftover)  # ...until the next apply stops it
        assert run_mlrt(project, "plan", "-detailed-exitcode").returncode == 0
    finally:  # never leave a run that blocks forever behind, even when an assertion failed
        for pid_file in (project / ".mlrt" / "runs").glob("slow-*/launcher.pid"):
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            except (ValueError, OSError):
                pass


SLEEPY_TRAINER = textwrap.dedent("""
    import os
    import time


    def train():
        with open("worker.pid", "w") as f:
            f.write(str(os.getpid()))
        for _ in range(1200):  # 120 s in small steps: far longer than the create timeout
            time.sleep(0.1)
""")

SLEEPY_HCL = """
compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
}

training "sleepy" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "sleepy:train"

  timeouts {
    create = "3s"
  }
}
"""


def _wait_exit(pid: int, timeout: float) -> bool:
    """Block until process `pid` exits (a pidfd becomes readable), at most `timeout` seconds."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def _working_in(folder: Path) -> list[int]:
    """Processes whose working directory is `folder` (a run's launcher and workers are)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if Path(os.readlink(entry / "cwd")) == folder and process_alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_training_past_its_create_timeout_is_stopped_and_not_recorded(tmp_path: Path) -> None:
    project = tmp_path / "sleepy"
    project.mkdir()
    (project / "sleepy.py").write_text(SLEEPY_TRAINER)
    (project / "main.hcl").write_text(SLEEPY_HCL)
    try:
        started = time.monotonic()
        res = run_mlrt(project, "apply", "-auto-approve", "-no-color", timeout=120)
        elapsed = time.monotonic() - started
        out = res.stdout + res.stderr
        assert res.returncode == 1, out
        assert "Timed out waiting for the training run sleepy-" in out, out
        assert "timeouts { create / update / delete }" in out
        # The apply ends soon after the 3 s deadline (mlrt's own start-up included), not after
        # the 120 s run.
        assert 3.0 <= elapsed < 40.0, (elapsed, out)
        # The run was stopped: none of its processes (launcher, workers) is left.
        left = [pid for pid in _working_in(project.resolve()) if not _wait_exit(pid, 15.0)]
        assert left == [], f"processes of the stopped run still alive: {left}"
        assert not list((project / ".mlrt" / "runs").glob("sleepy-*/launcher.pid"))
        addresses = {r["address"]: r for r in read_state(project)["resources"]}
        assert "training.sleepy" not in addresses and addresses["compute_pool.cpu"]["status"] == "ready"
        assert not list((project / ".mlrt" / "models").rglob("sleepy-*"))
    finally:
        run_mlrt(project, "destroy", "-auto-approve", timeout=120)


@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)])
def test_interrupting_a_silent_training_stops_it(tmp_path: Path, signals: tuple[signal.Signals, ...]) -> None:
    """Issue 15 item 6: Ctrl-C (once or twice) or SIGTERM during a training that prints nothing
    ends the apply and the run, and nothing of the run is left."""
    from .helpers import spawn_mlrt

    project = tmp_path / "sleepy"
    project.mkdir()
    (project / "sleepy.py").write_text(SLEEPY_TRAINER)
    (project / "main.hcl").write_text(SLEEPY_HCL.replace('create = "3s"', 'create = "10m"'))
    proc = spawn_mlrt(project, "apply", "-auto-approve", "-no-color")
    try:
        deadline = time.monotonic() + 120
        while not (project / "worker.pid").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the training never started"
            time.sleep(0.1)  # polling for the run to start, not timing a result
        for sig in signals:
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, out + err
        left = [pid for pid in _working_in(project.resolve()) if not _wait_exit(pid, 15.0)]
        assert left == [], f"processes of the interrupted run still alive: {left}"
        addresses = {r["address"] for r in read_state(project)["resources"] if r["status"] == "ready"}
        assert "training.sleepy" not in addresses
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        run_mlrt(project, "destroy", "-auto-approve", timeout=120)


def test_destroy_after_a_killed_apply_stops_the_run_it_left(tmp_path: Path) -> None:
    """Issue 15 item 5: after kill -9 during a training, state has a `creating` entry; destroy
    used to drop it and report success while the launcher kept running. Now refresh finds the
    run (status RUNNING), and destroy stops it: no process of it is left."""
    from .helpers import spawn_mlrt

    project = tmp_path / "slow"
    project.mkdir()
    (project / "slow.py").write_text(SLOW_TRAINER)
    (project / "main.hcl").write_text(SLOW_HCL)
    first = spawn_mlrt(project, "apply", "-auto-approve")
    try:
        deadline = time.monotonic() + 120
        while not (project / "started.txt").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.1)  # polling for the run to start, not timing a result
        first.kill()
        first.wait()
        assert _working_in(project.resolve()), "the run should outlive the killed apply"
        plan = run_mlrt(project, "plan", "-no-color")
        assert "training.slow must be replaced" in plan.stdout or "tainted" in plan.stdout, plan.stdout
        gone = run_mlrt(project, "destroy", "-auto-approve", timeout=120)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert "left by an interrupted apply" in gone.stdout
        left = [pid for pid in _working_in(project.resolve()) if not _wait_exit(pid, 15.0)]
        assert left == [], f"processes of the left run still alive: {left}"
        assert read_state(project)["resources"] == []
        assert not list((project / ".mlrt" / "models").rglob("slow-*"))
    finally:
        for pid in _working_in(project.resolve()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


STRAY_TRAINER = textwrap.dedent("""
    import os
    import subprocess


    def train():
        import torch

        from mlrt_iac.runtime import save_torch_model

        # A helper in a session of its own: signalling the run's process group misses it.
        helper = subprocess.Popen(["sleep", "300"], start_new_session=True)
        with open("helper.pid", "w") as f:
            f.write(str(helper.pid))
        # A daemon: double fork, so its parent is gone before the run ends.
        first = os.fork()
        if first == 0:
            os.setsid()
            if os.fork() == 0:
                with open("daemon.pid", "w") as f:
                    f.write(str(os.getpid()))
                os.execvp("sleep", ["sleep", "301"])
            os._exit(0)
        os.waitpid(first, 0)
        while not os.path.exists("daemon.pid") or not open("daemon.pid").read():
            pass
        save_torch_model(torch.nn.Linear(2, 1), torch.zeros(2, 2))  # no dataset: say what it takes
""")

STRAY_HCL = """
compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
}

training "strays" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "strays:train"
}
"""


def test_processes_a_run_started_outside_its_group_end_with_it(tmp_path: Path) -> None:
    """Issue 15 item 5: children of a run that left its process group (setsid, a daemon's double
    fork) outlived apply and destroy. The launcher is a child subreaper now: they are re-parented
    to it and killed when the run ends."""
    project = tmp_path / "strays"
    project.mkdir()
    (project / "strays.py").write_text(STRAY_TRAINER)
    (project / "main.hcl").write_text(STRAY_HCL)
    pids: list[int] = []
    try:
        res = run_mlrt(project, "apply", "-auto-approve", "-no-color", timeout=180)
        assert res.returncode == 0, res.stdout + res.stderr
        pids = [int((project / name).read_text()) for name in ("helper.pid", "daemon.pid")]
        left = [pid for pid in pids if not _wait_exit(pid, 15.0)]
        assert left == [], f"processes the run started outside its group are still alive: {left}"
    finally:
        for pid in pids:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
        run_mlrt(project, "destroy", "-auto-approve", timeout=120)
