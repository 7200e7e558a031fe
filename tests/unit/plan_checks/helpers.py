"""Running `mlrt` on a temporary project, in this process or in a child Python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlrt_iac.cli.main import main

# A pool and an XGBoost training on data/train.parquet (write it with `write_parquet`).
XGB_TRAINING = """compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
}

training "boost" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "label"
  }
}
"""

REPO = Path(__file__).resolve().parents[3]
HIDE = Path(__file__).resolve().parent / "hide_packages"


def run(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str]:
    code = main(["-chdir", str(project), *args, "-no-color"])
    out = capsys.readouterr()
    return code, out.out + out.err


def run_child(project: Path, *args: str, hide: str = "", timeout: float = 120) -> tuple[int, str]:
    """`mlrt ARGS` in a child Python in which the packages in `hide` look uninstalled."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HIDE), str(REPO), env.get("PYTHONPATH", "")])
    env["MLRT_TEST_HIDE"] = hide
    proc = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.cli.main", "-chdir", str(project), *args, "-no-color"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def write_parquet(path: Path, **columns: list[object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
