"""DataConnector: one way for training code to read its data, whatever the files are.

Built on pyarrow datasets so reads stay columnar and streaming. A connector may be
restricted to a contiguous row range; that is how shards work, and it keeps every rank's
share disjoint and balanced without reading other ranks' rows (parquet is split by row
group, so a shard reads only the row groups it overlaps).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from mlrt_iac.runtime.sources import DataSourceError, SourceLike, dataset_from_sources

if TYPE_CHECKING:
    import pandas as pd

    from mlrt_iac.runtime.torch_dataset import ArrowTorchDataset

__all__ = ["DataConnector", "ShardedDataConnector", "DataSourceError", "shard_range"]


@dataclass(frozen=True)
class Piece:
    """A fragment (a file or a parquet row group) and where its rows sit in the whole."""

    fragment: ds.Fragment
    start: int
    num_rows: int


def shard_range(num_rows: int, world_size: int, rank: int) -> tuple[int, int]:
    """Rows [start, stop) of rank's shard: contiguous, disjoint, sizes differ by at most one."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside world_size {world_size}.")
    base, extra = divmod(num_rows, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _fragment_batches(
    fragment: ds.Fragment, schema: pa.Schema, columns: list[str] | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """Record batches of one fragment in the dataset's schema.

    Plain parquet files are read with ``ParquetFile.iter_batches`` (measurably faster than
    the dataset scanner for a streaming pass); anything with partition columns or a schema
    that differs from the dataset's goes through the scanner, which unifies it.
    """
    if isinstance(fragment, ds.ParquetFileFragment):
        names = columns if columns is not None else schema.names
        pf = pq.ParquetFile(fragment.path, filesystem=fragment.filesystem)
        file_schema = pf.schema_arrow
        if all(
            file_schema.get_field_index(n) >= 0 and file_schema.field(n).type == schema.field(n).type
            for n in names
        ):
            row_groups = [rg.id for rg in fragment.row_groups]
            yield from pf.iter_batches(batch_size=batch_size, row_groups=row_groups, columns=names)
            return
    yield from fragment.to_batches(schema=schema, columns=columns, batch_size=batch_size)


def _split(fragment: ds.Fragment) -> list[tuple[ds.Fragment, int]]:
    if isinstance(fragment, ds.ParquetFileFragment):
        return [(rg, rg.row_groups[0].num_rows) for rg in fragment.split_by_row_group()]
    return [(fragment, fragment.count_rows())]


class DataConnector:
    """Columnar, streaming access to a dataset: arrow, pandas, or a torch IterableDataset."""

    def __init__(
        self,
        dataset: ds.Dataset,
        *,
        columns: Sequence[str] | None = None,
        row_range: tuple[int, int] | None = None,
        input_cols: Sequence[str] | None = None,
        label_col: str | None = None,
    ) -> None:
        self._dataset = dataset
        self._columns = list(columns) if columns is not None else None
        self._range = row_range
        self._pieces: list[Piece] | None = None
        self.input_cols: list[str] | None = list(input_cols) if input_cols is not None else None
        self.label_col = label_col

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_sources(
        cls,
        sources: Sequence[SourceLike] | SourceLike,
        *,
        columns: Sequence[str] | None = None,
        format: str | None = None,
    ) -> DataConnector:
        """Parquet, CSV or Arrow IPC/Feather files, directories and globs; local paths or
        pyarrow filesystem URIs."""
        srcs = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
        return DataConnector(dataset_from_sources(srcs, format=format), columns=columns)

    @classmethod
    def from_dataframe(cls, df: Any) -> DataConnector:
        """A pandas DataFrame or a pyarrow Table/RecordBatch, held in memory."""
        if isinstance(df, pa.RecordBatch):
            df = pa.Table.from_batches([df])
        if not isinstance(df, pa.Table):
            df = pa.Table.from_pandas(df, preserve_index=False)
        return DataConnector(ds.dataset(df))

    @classmethod
    def from_dataset(cls, spec: Mapping[str, Any]) -> DataConnector:
        """The job spec's dataset entry: {sources, input_cols, label_col, shard}."""
        sources = spec.get("sources") or spec.get("source")
        if not sources:
            raise DataSourceError("The dataset entry has no sources. Add at least one source.")
        input_cols = spec.get("input_cols")
        label_col = spec.get("label_col")
        columns = None
        if input_cols:
            columns = list(input_cols) + ([label_col] if label_col else [])
        dc = DataConnector.from_sources(sources, columns=columns)
        dc.input_cols = list(input_cols) if input_cols else None
        dc.label_col = label_col
        return dc

    def _derive(self, **changes: Any) -> DataConnector:
        args: dict[str, Any] = dict(
            columns=self._columns,
            row_range=self._range,
            input_cols=self.input_cols,
            label_col=self.label_col,
        )
        args.update(changes)
        out = DataConnector(self._dataset, **args)
        out._pieces = self._pieces
        return out

    # ---- shape --------------------------------------------------------------------
    def _view(self) -> DataConnector:
        """The connector the data methods read (a sharded connector reads its shard)."""
        return self

    @property
    def schema(self) -> pa.Schema:
        """The schema of the selected columns."""
        view = self._view()
        schema = view._dataset.schema
        if view._columns is None:
            return schema
        return pa.schema([schema.field(c) for c in view._columns])

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    def features(self) -> list[str]:
        """Input columns: input_cols when given, else every column except the label."""
        if self.input_cols:
            return list(self.input_cols)
        return [c for c in self.columns if c != self.label_col]

    def pieces(self) -> list[Piece]:
        """Every fragment with its global row offset (parquet split per row group)."""
        if self._pieces is None:
            out: list[Piece] = []
            start = 0
            for fragment in self._dataset.get_fragments():
                for frag, n in _split(fragment):
                    out.append(Piece(frag, start, n))
                    start += n
            self._pieces = out
        return self._pieces

    def _total_rows(self) -> int:
        return sum(p.num_rows for p in self.pieces())

    def count_rows(self) -> int:
        view = self._view()
        if view._range is not None:
            return view._range[1] - view._range[0]
        return view._dataset.count_rows()

    def __len__(self) -> int:
        return self.count_rows()

    def select(self, columns: Sequence[str]) -> DataConnector:
        return self._view()._derive(columns=list(columns))

    def slice(self, start: int, stop: int) -> DataConnector:
        """Rows [start, stop) of this connector, as a connector (no data is read)."""
        view = self._view()
        base = view._range[0] if view._range else 0
        length = view.count_rows()
        start, stop = max(0, min(start, length)), max(0, min(stop, length))
        return view._derive(row_range=(base + start, base + max(start, stop)))

    def get_shard(self) -> DataConnector:
        """This connector as the current rank's shard; an unsharded connector is all rows."""
        return self._view()

    # ---- reading ------------------------------------------------------------------
    def _selected(self, columns: Sequence[str] | None) -> list[str] | None:
        if columns is not None:
            return list(columns)
        return self._columns

    def iter_pieces(self) -> Iterator[tuple[Piece, int, int]]:
        """(piece, offset, length) for the pieces overlapping this connector's rows."""
        view = self._view()
        start, stop = view._range if view._range else (0, None)
        for piece in view.pieces():
            end = piece.start + piece.num_rows
            if end <= start or piece.num_rows == 0:
                continue
            if stop is not None and piece.start >= stop:
                break
            lo = max(start, piece.start) - piece.start
            hi = (min(stop, end) if stop is not None else end) - piece.start
            yield piece, lo, hi - lo

    def read_piece(
        self,
        piece: Piece,
        offset: int,
        length: int,
        columns: Sequence[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """The record batches of rows [offset, offset+length) of one piece."""
        view = self._view()
        pos = 0
        for batch in _fragment_batches(
            piece.fragment, view._dataset.schema, view._selected(columns), batch_size
        ):
            n = batch.num_rows
            lo, hi = max(offset - pos, 0), min(offset + length - pos, n)
            pos += n
            if hi > lo:
                yield batch if (lo == 0 and hi == n) else batch.slice(lo, hi - lo)
            if pos >= offset + length:
                break

    def iter_batches(
        self, columns: Sequence[str] | None = None, batch_size: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """Stream record batches in row order (at most batch_size rows each)."""
        view = self._view()
        if view._range is None:
            for fragment in view._dataset.get_fragments():
                yield from _fragment_batches(
                    fragment, view._dataset.schema, view._selected(columns), batch_size
                )
            return
        for piece, offset, length in view.iter_pieces():
            yield from view.read_piece(piece, offset, length, columns, batch_size)

    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        view = self._view()
        if view._range is None:
            return view._dataset.to_table(columns=view._selected(columns))
        return pa.Table.from_batches(list(view.iter_batches(columns)), schema=_schema_of(view, columns))

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return self.to_arrow(columns).to_pandas()

    def to_torch_dataset(
        self,
        *,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last_batch: bool = False,
        columns: Sequence[str] | None = None,
        shuffle_buffer_rows: int | None = None,
        seed: int | None = None,
    ) -> ArrowTorchDataset:
        """A streaming torch IterableDataset yielding {column: tensor} batches.

        Use it with ``DataLoader(ds, batch_size=None)``; batches are already formed.
        """
        from mlrt_iac.runtime.torch_dataset import ArrowTorchDataset

        return ArrowTorchDataset(
            self._view(),
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last_batch=drop_last_batch,
            columns=columns,
            shuffle_buffer_rows=shuffle_buffer_rows,
            seed=seed,
        )

    def __repr__(self) -> str:
        view = self._view()
        return f"{type(self).__name__}(columns={view.columns}, rows={view._range or 'all'})"


def _schema_of(view: DataConnector, columns: Sequence[str] | None) -> pa.Schema:
    cols = view._selected(columns)
    schema = view._dataset.schema
    return schema if cols is None else pa.schema([schema.field(c) for c in cols])


class ShardedDataConnector(DataConnector):
    """A connector whose data methods read one rank's shard.

    world_size and rank default to the training context's (resolved when first used), so
    ``get_context().get_dataset_map()["train"].get_shard()`` works as in Snowflake.
    Shards are contiguous row ranges: disjoint, together every row once, sizes within one.
    """

    def __init__(
        self,
        dataset: ds.Dataset,
        *,
        world_size: int | None = None,
        rank: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset, **kwargs)
        self.world_size = world_size
        self.rank = rank

    @classmethod
    def from_connector(
        cls, connector: DataConnector, *, world_size: int | None = None, rank: int | None = None
    ) -> ShardedDataConnector:
        out = ShardedDataConnector(
            connector._dataset,
            world_size=world_size,
            rank=rank,
            columns=connector._columns,
            row_range=connector._range,
            input_cols=connector.input_cols,
            label_col=connector.label_col,
        )
        out._pieces = connector._pieces
        return out

    @classmethod
    def from_sources(
        cls,
        sources: Sequence[SourceLike] | SourceLike,
        *,
        columns: Sequence[str] | None = None,
        format: str | None = None,
        world_size: int | None = None,
        rank: int | None = None,
    ) -> ShardedDataConnector:
        dc = DataConnector.from_sources(sources, columns=columns, format=format)
        return cls.from_connector(dc, world_size=world_size, rank=rank)

    @classmethod
    def from_dataframe(
        cls, df: Any, *, world_size: int | None = None, rank: int | None = None
    ) -> ShardedDataConnector:
        return cls.from_connector(DataConnector.from_dataframe(df), world_size=world_size, rank=rank)

    @classmethod
    def from_dataset(
        cls, spec: Mapping[str, Any], *, world_size: int | None = None, rank: int | None = None
    ) -> ShardedDataConnector:
        return cls.from_connector(DataConnector.from_dataset(spec), world_size=world_size, rank=rank)

    def _world(self) -> tuple[int, int]:
        if self.world_size is not None and self.rank is not None:
            return self.world_size, self.rank
        from mlrt_iac.runtime.context import current_rank_info

        world_size, rank = current_rank_info()
        return (
            self.world_size if self.world_size is not None else world_size,
            self.rank if self.rank is not None else rank,
        )

    def shard_bounds(self, rank: int | None = None) -> tuple[int, int]:
        """Global rows [start, stop) of a rank's shard (default: this connector's rank)."""
        world_size, own = self._world()
        base_lo, base_hi = self._range if self._range else (0, self._total_rows())
        lo, hi = shard_range(base_hi - base_lo, world_size, own if rank is None else rank)
        return base_lo + lo, base_lo + hi

    def get_shard(self, rank: int | None = None) -> DataConnector:
        """A plain connector over one rank's rows (default: this connector's rank)."""
        return self._derive(row_range=self.shard_bounds(rank))

    def _view(self) -> DataConnector:
        return self.get_shard()
