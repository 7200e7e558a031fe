"""The streaming torch dataset: dtypes, shapes, drop_last, shuffle, bad columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mlrt_iac.runtime import DataConnector
from mlrt_iac.runtime.batching import ColumnTypeError


def _write(tmp: Path, n: int = 103) -> Path:
    table = pa.table(
        {
            "i8": pa.array(np.arange(n) % 100, pa.int8()),
            "u32": pa.array(np.arange(n), pa.uint32()),
            "f32": pa.array(np.arange(n) / 3, pa.float32()),
            "f64": pa.array(np.arange(n) / 7, pa.float64()),
            "flag": pa.array(np.arange(n) % 2 == 0),
            "name": pa.array([f"r{i}" for i in range(n)]),
        }
    )
    path = tmp / "types.parquet"
    pq.write_table(table, path, row_group_size=10)
    return path


def test_types_map_predictably(tmp_path: Path) -> None:
    dc = DataConnector.from_sources([str(_write(tmp_path))])
    batch = next(iter(dc.to_torch_dataset(batch_size=16, columns=["i8", "u32", "f32", "f64", "flag"])))
    assert batch["i8"].dtype == torch.int64
    assert batch["u32"].dtype == torch.int64
    assert batch["f32"].dtype == torch.float32
    assert batch["f64"].dtype == torch.float64
    assert batch["flag"].dtype == torch.bool
    assert batch["u32"].tolist() == list(range(16))


def test_string_column_is_an_error_naming_it(tmp_path: Path) -> None:
    dc = DataConnector.from_sources([str(_write(tmp_path))])
    with pytest.raises(ColumnTypeError, match="'name'"):
        dc.to_torch_dataset(batch_size=8)


def test_nested_column_is_an_error_naming_it() -> None:
    dc = DataConnector.from_dataframe(pa.table({"vec": [[1, 2], [3]], "y": [1, 2]}))
    with pytest.raises(ColumnTypeError, match="'vec'"):
        dc.to_torch_dataset(batch_size=2)


def test_null_in_int_column_is_an_error_naming_it() -> None:
    dc = DataConnector.from_dataframe(pa.table({"k": pa.array([1, None, 3], pa.int64())}))
    with pytest.raises(ColumnTypeError, match="'k'.*null"):
        list(dc.to_torch_dataset(batch_size=2))


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_shapes_and_drop_last(tmp_path: Path, drop_last: bool) -> None:
    dc = DataConnector.from_sources([str(_write(tmp_path))])
    ds = dc.to_torch_dataset(batch_size=25, drop_last_batch=drop_last, columns=["u32", "f64"])
    sizes = [b["u32"].shape[0] for b in ds]
    assert sizes == ([25] * 4 if drop_last else [25] * 4 + [3])
    assert len(ds) == len(sizes)


def test_shuffle_covers_every_row_once_in_a_new_order(tmp_path: Path) -> None:
    dc = DataConnector.from_sources([str(_write(tmp_path))])
    ds = dc.to_torch_dataset(batch_size=10, shuffle=True, columns=["u32"], shuffle_buffer_rows=30, seed=7)
    first = torch.cat([b["u32"] for b in ds]).tolist()
    second = torch.cat([b["u32"] for b in ds]).tolist()
    assert sorted(first) == list(range(103)) and sorted(second) == list(range(103))
    assert first != list(range(103))
    assert first != second  # each epoch draws a new order


def test_works_with_a_dataloader_and_workers(tmp_path: Path) -> None:
    dc = DataConnector.from_sources([str(_write(tmp_path))])
    loader = torch.utils.data.DataLoader(
        dc.to_torch_dataset(batch_size=10, columns=["u32"]), batch_size=None, num_workers=2
    )
    seen = torch.cat([b["u32"] for b in loader]).tolist()
    assert sorted(seen) == list(range(103))
