"""Real model artifacts and real server processes for the serving tests (no mocks)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
COLS = [f"f{i}" for i in range(8)]


def write_metadata(
    model_dir: Path,
    framework: str,
    model_file: str,
    objective: str | None,
    num_classes: int | None,
    cols: list[str] = COLS,
) -> None:
    meta = {
        "framework": framework,
        "framework_version": "test",
        "mlrt_version": "0.1.0",
        "model_file": model_file,
        "input_cols": cols,
        "input_dtypes": {c: "float64" for c in cols},
        "label_col": "label",
        "objective": objective,
        "num_classes": num_classes,
        "metrics": {},
        "input_fingerprint": "test",
        "created_at": "2024-01-01T00:00:00Z",
    }
    (model_dir / "metadata.json").write_text(json.dumps(meta))


def training_data(n: int = 600, classes: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(COLS)))
    score = x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.3, size=n)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    return x, y


def make_xgboost(model_dir: Path, objective: str = "binary:logistic", classes: int = 2) -> Any:
    import pandas as pd
    import xgboost as xgb

    x, y = training_data(classes=classes)
    params: dict[str, Any] = {"objective": objective, "max_depth": 3, "nthread": 1}
    if objective.startswith("multi"):
        params["num_class"] = classes
    booster = xgb.train(params, xgb.DMatrix(pd.DataFrame(x, columns=COLS), label=y), 10)
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "model.ubj"))
    write_metadata(model_dir, "xgboost", "model.ubj", objective, classes)
    return booster


def make_lightgbm(model_dir: Path) -> Any:
    import lightgbm as lgb
    import pandas as pd

    x, y = training_data()
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(pd.DataFrame(x, columns=COLS), label=y),
        10,
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "model.txt"))
    write_metadata(model_dir, "lightgbm", "model.txt", "binary", 2)
    return booster


def rows_body(x: np.ndarray, start: int = 0) -> dict[str, Any]:
    return {"data": [[start + i, *map(float, row)] for i, row in enumerate(x)]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def tree_rss_mib(pid: int) -> float:
    total = 0
    for p in {pid} | descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


@dataclass
class Server:
    """One ``python -m mlrt_iac.runtime.serving`` instance, in its own session."""

    model_dir: Path
    port: int
    workers: int = 1
    max_queue: int = 16
    extra: list[str] = field(default_factory=list)
    instance_id: str = "0"
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path, timeout: float = 90.0) -> Server:
        self.log = log_dir / f"server-{self.port}-{self.instance_id}.log"
        cmd = [
            sys.executable,
            "-m",
            "mlrt_iac.runtime.serving",
            "--model-uri",
            str(self.model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--max-queue",
            str(self.max_queue),
            "--instance-id",
            self.instance_id,
            *self.extra,
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: {self.log_text()}")
            try:
                r = httpx.get(self.url + "/health", timeout=5)
                if r.status_code == 200 and r.json().get("instance") == self.instance_id:
                    return dict(r.json())
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling for readiness, not timing a result
        raise AssertionError(f"server not healthy in {timeout}s: {self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM the supervisor, then make sure nothing of its session survives."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # only this server's own session
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait()
