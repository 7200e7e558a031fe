"""Record batches -> fixed-size batches of numpy columns, without materialising a table.

Numeric columns without nulls convert zero-copy; a batch is only copied where it spans
two record batches or is shuffled. The type rules live here so the torch dataset and any
other consumer map columns the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa

Columns = dict[str, np.ndarray]


class ColumnTypeError(TypeError):
    """A column that cannot become a tensor (strings, nested, dates, nulls in ints...)."""


def check_tensor_columns(schema: pa.Schema, columns: Sequence[str]) -> None:
    """Fail before streaming when a selected column has a type tensors cannot hold."""
    missing = [c for c in columns if schema.get_field_index(c) < 0]
    if missing:
        raise ColumnTypeError(
            f"Column(s) {', '.join(map(repr, missing))} not found in the data. "
            f"Available columns: {', '.join(schema.names)}."
        )
    for name in columns:
        typ = schema.field(name).type
        if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)):
            raise ColumnTypeError(
                f"Column {name!r} has type {typ}, which cannot become a tensor. "
                "Leave it out with columns=[...] or encode it as numbers first."
            )


def column_to_numpy(name: str, array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """ints -> int64, floats as stored (nulls -> NaN), bools -> bool."""
    typ = array.type
    if pa.types.is_floating(typ):
        return array.to_numpy(zero_copy_only=False)
    if array.null_count:
        raise ColumnTypeError(
            f"Column {name!r} ({typ}) has null values, which an integer or bool tensor "
            "cannot hold. Fill them, or store the column as float."
        )
    out = array.to_numpy(zero_copy_only=False)
    if pa.types.is_integer(typ):
        return out.astype(np.int64, copy=False)
    if pa.types.is_boolean(typ):
        return out.astype(np.bool_, copy=False)
    raise ColumnTypeError(f"Column {name!r} has type {typ}, which cannot become a tensor.")


def batch_to_columns(batch: pa.RecordBatch, columns: Sequence[str]) -> Columns:
    return {name: column_to_numpy(name, batch.column(name)) for name in columns}


def _concat(parts: list[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def rebatch(chunks: Iterable[Columns], batch_size: int, drop_last: bool) -> Iterator[Columns]:
    """Cut a stream of column chunks of any length into batches of exactly batch_size rows
    (the last one shorter unless drop_last)."""
    pending: list[Columns] = []
    pending_rows = 0
    for chunk in chunks:
        n = len(next(iter(chunk.values()))) if chunk else 0
        offset = 0
        if pending_rows:
            take = min(batch_size - pending_rows, n)
            pending.append({k: v[:take] for k, v in chunk.items()})
            pending_rows += take
            offset = take
            if pending_rows == batch_size:
                yield _concat(pending)
                pending, pending_rows = [], 0
        while n - offset >= batch_size:
            yield {k: v[offset : offset + batch_size] for k, v in chunk.items()}
            offset += batch_size
        if offset < n:
            pending.append({k: v[offset:] for k, v in chunk.items()})
            pending_rows += n - offset
    if pending_rows and not drop_last:
        yield _concat(pending)


def shuffle_buffered(
    chunks: Iterable[Columns], buffer_rows: int, rng: np.random.Generator
) -> Iterator[Columns]:
    """Shuffle rows within windows of about buffer_rows rows (every row exactly once)."""
    buffer: list[Columns] = []
    rows = 0
    for chunk in chunks:
        buffer.append(chunk)
        rows += len(next(iter(chunk.values()))) if chunk else 0
        if rows >= buffer_rows:
            merged = _concat(buffer)
            perm = rng.permutation(rows)
            yield {k: v[perm] for k, v in merged.items()}
            buffer, rows = [], 0
    if rows:
        merged = _concat(buffer)
        perm = rng.permutation(rows)
        yield {k: v[perm] for k, v in merged.items()}
