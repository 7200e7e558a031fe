"""A streaming torch IterableDataset over a DataConnector.

Batches are formed here (not by a DataLoader collate) from arrow record batches, so rows
never exist as Python objects. Shuffling shuffles the order of fragments/row groups and
then rows within a buffer; every row still comes exactly once per epoch. Under a DataLoader
with several workers, each worker takes every n-th fragment, so rows are not duplicated.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from mlrt_iac.runtime.batching import (
    Columns,
    batch_to_columns,
    check_tensor_columns,
    rebatch,
    shuffle_buffered,
)

if TYPE_CHECKING:
    from mlrt_iac.runtime.data_connector import DataConnector

# Arrow buffers are read-only; tensors share them zero-copy. Writing into a batch tensor
# in place is the caller's choice, so torch's per-process warning is noise here.
warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


class ArrowTorchDataset(IterableDataset):
    """Yields ``{column: tensor}`` with ``batch_size`` rows (ints int64, floats as stored,
    bools bool). Use ``DataLoader(ds, batch_size=None)``."""

    def __init__(
        self,
        connector: DataConnector,
        *,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last_batch: bool = False,
        columns: Sequence[str] | None = None,
        shuffle_buffer_rows: int | None = None,
        seed: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.connector = connector
        self.columns = list(columns) if columns is not None else connector.columns
        check_tensor_columns(connector._dataset.schema, self.columns)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last_batch = drop_last_batch
        self.shuffle_buffer_rows = shuffle_buffer_rows or max(8 * batch_size, 65_536)
        self.seed = seed
        self._epoch = 0

    def __len__(self) -> int:
        rows = self.connector.count_rows()
        return rows // self.batch_size if self.drop_last_batch else math.ceil(rows / self.batch_size)

    def _rng(self) -> np.random.Generator:
        self._epoch += 1
        if self.seed is None:
            return np.random.default_rng()
        return np.random.default_rng([self.seed, self._epoch])

    def _chunks(self, rng: np.random.Generator | None) -> Iterator[Columns]:
        info = get_worker_info()
        cols = self.columns
        if rng is None and (info is None or info.num_workers == 1):
            for rb in self.connector.iter_batches(cols):
                yield batch_to_columns(rb, cols)
            return
        units = list(self.connector.iter_pieces())
        if info is not None and info.num_workers > 1:
            units = units[info.id :: info.num_workers]
        if rng is not None:
            order = rng.permutation(len(units))
            units = [units[i] for i in order]
        for piece, offset, length in units:
            for rb in self.connector.read_piece(piece, offset, length, cols):
                yield batch_to_columns(rb, cols)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = self._rng() if self.shuffle else None
        chunks: Iterator[Columns] = self._chunks(rng)
        if rng is not None:
            chunks = shuffle_buffered(chunks, self.shuffle_buffer_rows, rng)
        for batch in rebatch(chunks, self.batch_size, self.drop_last_batch):
            yield {k: torch.from_numpy(v) for k, v in batch.items()}
