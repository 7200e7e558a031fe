"""Shards are disjoint, balanced, contiguous and together cover every row exactly once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlrt_iac.runtime import DataConnector, ShardedDataConnector
from mlrt_iac.runtime.context import TrainingContext, set_context


@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 5])
def test_every_row_exactly_once(tmp_path: Path, world_size: int) -> None:
    # 3 files with row groups of 7 so shard boundaries fall inside files and row groups.
    for i, n in enumerate((23, 40, 18)):
        start = sum((23, 40, 18)[:i])
        pq.write_table(
            pa.table({"id": np.arange(start, start + n)}), tmp_path / f"p{i}.parquet", row_group_size=7
        )
    dc = DataConnector.from_sources([str(tmp_path)])
    ids: list[int] = []
    sizes = []
    for rank in range(world_size):
        shard = ShardedDataConnector.from_connector(dc, world_size=world_size, rank=rank).get_shard()
        part = shard.to_arrow().column("id").to_pylist()
        assert part == sorted(part) and (not part or part == list(range(part[0], part[0] + len(part))))
        sizes.append(len(part))
        ids.extend(part)
    assert ids == list(range(81))
    assert max(sizes) - min(sizes) <= 1


def test_torch_batches_of_a_shard_stay_in_the_shard(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": np.arange(50)}), tmp_path / "d.parquet", row_group_size=8)
    seen = []
    for rank in range(3):
        sharded = ShardedDataConnector.from_sources([str(tmp_path / "d.parquet")], world_size=3, rank=rank)
        for batch in sharded.to_torch_dataset(batch_size=4, shuffle=True, seed=rank):
            seen.extend(batch["id"].tolist())
    assert sorted(seen) == list(range(50))


def test_rank_comes_from_the_training_context() -> None:
    data = pa.table({"id": np.arange(10)})
    set_context(TrainingContext(rank=1, world_size=2))
    try:
        sharded = ShardedDataConnector.from_dataframe(data)
        assert sharded.get_shard().to_arrow().column("id").to_pylist() == [5, 6, 7, 8, 9]
    finally:
        set_context(None)
