"""Writes data/train.parquet and data/eval.parquet: y = x . (1, -2, 0.5, 0) + noise."""

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WEIGHTS = np.array([1.0, -2.0, 0.5, 0.0])


def write(path: Path, rows: int, rng: np.random.Generator) -> None:
    x = rng.normal(size=(rows, len(WEIGHTS)))
    y = x @ WEIGHTS + rng.normal(scale=0.1, size=rows)
    table = pa.table({f"x{i}": x[:, i] for i in range(len(WEIGHTS))} | {"y": y})
    pq.write_table(table, path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000, help="rows of train.parquet")
    args = parser.parse_args()
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    write(out / "train.parquet", args.rows, rng)
    write(out / "eval.parquet", max(args.rows // 5, 1), rng)
