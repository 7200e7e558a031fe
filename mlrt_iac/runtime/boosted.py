"""What XGBoost and LightGBM workers share: loading train/eval data from the spec.

With several workers the training set is always this rank's shard (each row must be seen
by one worker only, otherwise distributed histograms count it N times); the eval set is
sharded only when its spec says shard=true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlrt_iac.runtime.artifact import input_dtypes
from mlrt_iac.runtime.data_connector import DataConnector, ShardedDataConnector

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlrt_iac.runtime.context import TrainingContext
    from mlrt_iac.runtime.spec import TrainingSpec


class TrainingInputError(ValueError):
    """The spec's datasets cannot train a boosted-tree model (no train set, no label...)."""


@dataclass
class Split:
    X: pd.DataFrame
    y: np.ndarray


@dataclass
class BoostedInputs:
    train: Split
    eval: Split | None
    features: list[str]
    dtypes: dict[str, str]
    label: str


def _load(dc: DataConnector, features: list[str], label: str) -> Split:
    table = dc.to_arrow(features + [label])
    return Split(X=table.select(features).to_pandas(), y=table.column(label).to_numpy())


def load_boosted_inputs(spec: TrainingSpec, ctx: TrainingContext) -> BoostedInputs:
    train_name = spec.train_dataset_name()
    if train_name is None:
        raise TrainingInputError('The training has no training dataset. Add a dataset block named "train".')
    entry = spec.datasets[train_name]
    if not entry.label_col:
        raise TrainingInputError(
            f"Dataset {train_name!r} has no label_col. Set label_col to the column to predict."
        )
    label = entry.label_col
    world, rank = ctx.get_world_size(), ctx.get_rank()
    full = DataConnector.from_dataset(entry.model_dump())
    features = full.features()
    dtypes = input_dtypes(full.schema, features)
    train_dc: DataConnector = full
    if world > 1:
        train_dc = ShardedDataConnector.from_connector(full, world_size=world, rank=rank).get_shard()
    eval_split = None
    eval_name = spec.eval_dataset_name()
    if eval_name is not None:
        eval_entry = spec.datasets[eval_name]
        eval_dc = DataConnector.from_dataset(eval_entry.model_dump())
        if eval_entry.shard and world > 1:
            eval_dc = ShardedDataConnector.from_connector(eval_dc, world_size=world, rank=rank).get_shard()
        eval_split = _load(eval_dc, features, eval_entry.label_col or label)
    return BoostedInputs(
        train=_load(train_dc, features, label),
        eval=eval_split,
        features=features,
        dtypes=dtypes,
        label=label,
    )


def default_threads(spec: TrainingSpec) -> int:
    return max(1, int(spec.scaling.num_cpus_per_worker))


def strip_round_keys(params: dict[str, Any]) -> dict[str, Any]:
    """Framework params without the keys mlrt handles itself."""
    drop = {"num_boost_round", "n_estimators", "early_stopping_rounds", "num_iterations"}
    return {k: v for k, v in params.items() if k not in drop}
