"""DataConnector over real parquet, CSV, Arrow IPC files, directories, globs and URIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from mlrt_iac.runtime import DataConnector
from mlrt_iac.runtime.sources import DataSourceError


def _table(start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n, dtype=np.int64)
    return pa.table({"id": ids, "x": ids.astype(np.float64) / 2})


def test_parquet_csv_and_arrow_files(tmp_path: Path) -> None:
    pq.write_table(_table(0, 10), tmp_path / "a.parquet")
    pacsv.write_csv(_table(10, 5), tmp_path / "b.csv")
    feather.write_feather(_table(15, 5), tmp_path / "c.arrow")
    for name, first in (("a.parquet", 0), ("b.csv", 10), ("c.arrow", 15)):
        table = DataConnector.from_sources([str(tmp_path / name)]).to_arrow()
        assert table.column("id").to_pylist()[0] == first
        assert table.schema.field("x").type == pa.float64()


def test_directory_reads_every_data_file_in_order_and_skips_hidden(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(_table(0, 4), data / "part-0.parquet")
    pq.write_table(_table(4, 4), data / "part-1.parquet")
    (data / "_SUCCESS").write_text("")
    (data / ".part-0.parquet.crc").write_text("junk")
    dc = DataConnector.from_sources([str(data)])
    assert dc.to_pandas()["id"].tolist() == list(range(8))
    assert dc.count_rows() == 8


def test_glob_and_mixed_formats_become_one_dataset(tmp_path: Path) -> None:
    for i in range(3):
        pq.write_table(_table(i * 3, 3), tmp_path / f"shard-{i}.parquet")
    pacsv.write_csv(_table(9, 2), tmp_path / "extra.csv")
    dc = DataConnector.from_sources([str(tmp_path / "shard-*.parquet"), str(tmp_path / "extra.csv")])
    assert dc.to_arrow().column("id").to_pylist() == list(range(11))


def test_filesystem_uri(tmp_path: Path) -> None:
    pq.write_table(_table(0, 6), tmp_path / "u.parquet")
    dc = DataConnector.from_sources([f"file://{tmp_path}/u.parquet"])
    assert dc.count_rows() == 6


def test_from_dataframe_pandas_and_arrow() -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    assert DataConnector.from_dataframe(df).to_pandas().equals(df)
    assert DataConnector.from_dataframe(pa.Table.from_pandas(df)).count_rows() == 3


def test_from_dataset_selects_input_and_label_columns(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2], "b": [3.0, 4.0], "junk": ["x", "y"], "y": [0, 1]})
    pq.write_table(table, tmp_path / "t.parquet")
    dc = DataConnector.from_dataset(
        {"sources": [str(tmp_path / "t.parquet")], "input_cols": ["a", "b"], "label_col": "y", "shard": False}
    )
    assert dc.columns == ["a", "b", "y"]
    assert dc.features() == ["a", "b"]
    assert dc.label_col == "y"


def test_missing_source_and_unknown_format_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="does not exist"):
        DataConnector.from_sources([str(tmp_path / "nope.parquet")])
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DataSourceError, match="Cannot tell the format"):
        DataConnector.from_sources([str(tmp_path / "data.xlsx")])
    with pytest.raises(DataSourceError, match="matches no files"):
        DataConnector.from_sources([str(tmp_path / "*.parquet")])


def test_slice_reads_only_the_requested_rows(tmp_path: Path) -> None:
    pq.write_table(_table(0, 100), tmp_path / "s.parquet", row_group_size=7)
    dc = DataConnector.from_sources([str(tmp_path / "s.parquet")])
    part = dc.slice(13, 58)
    assert part.count_rows() == 45
    assert part.to_arrow().column("id").to_pylist() == list(range(13, 58))


def test_hive_partitioned_directory_keeps_partition_columns(tmp_path: Path) -> None:
    for part, start in (("a", 0), ("b", 3)):
        folder = tmp_path / "data" / f"split={part}"
        folder.mkdir(parents=True)
        pq.write_table(_table(start, 3), folder / "f.parquet")
    dc = DataConnector.from_sources([str(tmp_path / "data")])
    table = dc.to_arrow()
    assert table.column("split").to_pylist() == ["a"] * 3 + ["b"] * 3
    streamed = pa.Table.from_batches(list(dc.iter_batches()))
    assert streamed.column("split").to_pylist() == ["a"] * 3 + ["b"] * 3
    assert [b["id"].tolist() for b in dc.to_torch_dataset(batch_size=4, columns=["id"])] == [
        [0, 1, 2, 3],
        [4, 5],
    ]
