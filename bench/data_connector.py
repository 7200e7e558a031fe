"""Benchmark: DataConnector against hand-written pyarrow baselines, side by side.

A parquet file of 2,000,000 rows x 20 float64 columns is generated in a temp dir. Each case
prints mlrt's row and its baselines' rows (rows/s, best and spread of the rounds):
  - DataConnector.to_pandas()
      headline baseline: pyarrow.parquet.read_table(...).to_pandas() (multi-threaded)
  - a full pass of to_torch_dataset(batch_size=4096), {column: tensor} batches
      headline baseline: pyarrow.dataset.dataset(...).to_batches(batch_size=4096, batch_readahead=16,
        fragment_readahead=4, use_threads=True) -> torch.from_numpy per column (pyarrow's own
        threaded, read-ahead batching; its batches may be shorter than 4096 at row-group ends,
        mlrt's are exactly 4096)
      extra row: single-threaded ParquetFile.iter_batches (the old, weaker baseline)
Target: mlrt >= 0.9 x each headline baseline. Every implementation runs once per round, the
rounds interleaved (the order rotates each round) after one untimed warm-up pass of each so that a busy machine slows them alike; the
best round counts, the spread (slowest - best) says how noisy the machine was. The load average
is printed before and after.

    python bench/data_connector.py [--rows 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import torch

from mlrt_iac.runtime import DataConnector

COLS = 20
BATCH = 4096
NAMES = [f"c{i}" for i in range(COLS)]


def make_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    table = pa.table({name: rng.random(rows) for name in NAMES})
    pq.write_table(table, path)


def mlrt_pandas(path: Path) -> int:
    return len(DataConnector.from_sources([str(path)]).to_pandas())


def base_pandas(path: Path) -> int:
    return len(pq.read_table(path).to_pandas())


def mlrt_torch(path: Path) -> int:
    rows = 0
    for batch in DataConnector.from_sources([str(path)]).to_torch_dataset(batch_size=BATCH):
        rows += batch["c0"].shape[0]
    return rows


def _tensors(rb: pa.RecordBatch) -> dict[str, torch.Tensor]:
    return {n: torch.from_numpy(rb.column(n).to_numpy()) for n in NAMES}


def dataset_torch(path: Path) -> int:
    """pyarrow.dataset's threaded scanner with read-ahead: the fair baseline."""
    rows = 0
    scan = pads.dataset(path, format="parquet").to_batches(
        columns=NAMES, batch_size=BATCH, batch_readahead=16, fragment_readahead=4, use_threads=True
    )
    for rb in scan:
        if rb.num_rows:
            rows += _tensors(rb)["c0"].shape[0]
    return rows


def iter_batches_torch(path: Path) -> int:
    """ParquetFile.iter_batches on one thread: the old baseline, kept as an extra row."""
    rows = 0
    for rb in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        rows += _tensors(rb)["c0"].shape[0]
    return rows


def timed(fn: Callable[[Path], int], path: Path) -> tuple[float, int]:
    gc.collect()
    t0 = time.perf_counter()
    rows = fn(path)
    return time.perf_counter() - t0, rows


# case -> [(label, function, role)]; role: "mlrt", "headline" (the target's baseline) or "extra".
Impl = tuple[str, Callable[[Path], int], str]
CASES: list[tuple[str, list[Impl]]] = [
    (
        "to_pandas",
        [
            ("mlrt DataConnector.to_pandas", mlrt_pandas, "mlrt"),
            ("pq.read_table().to_pandas", base_pandas, "headline"),
        ],
    ),
    (
        f"to_torch_dataset(batch_size={BATCH})",
        [
            ("mlrt to_torch_dataset", mlrt_torch, "mlrt"),
            ("pyarrow.dataset to_batches", dataset_torch, "headline"),
            ("ParquetFile.iter_batches 1 thread", iter_batches_torch, "extra"),
        ],
    ),
]


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.parquet"
        make_file(path, args.rows)
        print(
            f"data: {args.rows:,} rows x {COLS} float64 columns, {path.stat().st_size / 1e6:.0f} MB parquet; "
            f"{args.repeat} interleaved rounds, {os.cpu_count()} CPUs, {load()} (before)"
        )
        print(
            f"{'case':<34} {'implementation':<34}{'rows/s':>12}{'best_s':>8}{'spread_s':>9}"
            f"{'mlrt/this':>10}  target"
        )
        for case, impls in CASES:
            for _, fn, _ in impls:  # warm-up, untimed: imports, page cache
                fn(path)
            times: dict[str, list[float]] = {label: [] for label, _, _ in impls}
            for i in range(args.repeat):
                shift = i % len(impls)  # rotate who goes first: no side always inherits a warm cache
                for label, fn, _ in impls[shift:] + impls[:shift]:
                    t, rows = timed(fn, path)
                    assert rows == args.rows, (label, rows)
                    times[label].append(t)
            ours = min(next(times[label] for label, _, role in impls if role == "mlrt"))
            for label, _, role in impls:
                best, spread = min(times[label]), max(times[label]) - min(times[label])
                ratio = best / ours  # mlrt's throughput over this one's
                if role == "mlrt":
                    ratio_s, verdict = "", ""
                elif role == "headline":
                    ratio_s = f"{ratio:.2f}"
                    verdict = f">=0.90 {'ok' if ratio >= 0.9 else 'MISSED'} (headline)"
                else:
                    ratio_s, verdict = f"{ratio:.2f}", "(extra row, no target)"
                print(
                    f"{case:<34} {label:<34}{args.rows / best:>12,.0f}{best:>8.3f}{spread:>9.3f}"
                    f"{ratio_s:>10}  {verdict}"
                )
        print(f"{load()} (after)")


if __name__ == "__main__":
    main()
