"""Generate the quickstart's training and evaluation data (deterministic, a few hundred KB).

Eight float features f0..f7 drawn from a standard normal distribution with a fixed seed, and a
binary label from a known formula, so a trained model can be checked against the truth:

    label = 1  if  1.5*f0 - 2.0*f1 + f2*f3 + 0.75*sin(2*f4) + 0.3*noise > 0  else 0

f5, f6 and f7 are pure noise features (a good model learns to ignore them).
Run from anywhere: `python examples/quickstart/make_data.py` writes data/train.parquet and
data/eval.parquet next to this script (or under --out).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

N_FEATURES = 8


def make_table(rows: int, rng: np.random.Generator) -> pa.Table:
    """Features as float32 columns f0..f7 and an int32 `label` column."""
    x = rng.standard_normal((rows, N_FEATURES)).astype(np.float32)
    noise = rng.standard_normal(rows).astype(np.float32)
    score = 1.5 * x[:, 0] - 2.0 * x[:, 1] + x[:, 2] * x[:, 3] + 0.75 * np.sin(2 * x[:, 4]) + 0.3 * noise
    columns = {f"f{i}": x[:, i] for i in range(N_FEATURES)}
    columns["label"] = (score > 0).astype(np.int32)
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--train-rows", type=int, default=5000)
    parser.add_argument("--eval-rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", args.train_rows), ("eval", args.eval_rows)):
        path = args.out / f"{name}.parquet"
        table = make_table(rows, rng)
        pq.write_table(table, path, compression="zstd")
        positives = int(np.asarray(table.column("label")).sum())
        print(f"wrote {path} ({rows} rows, {positives} positive, {path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
