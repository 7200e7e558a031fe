"""The training job spec: the JSON contract between the local provider and the launcher.

Validated strictly (unknown keys are errors) so a provider/launcher mismatch shows up as a
clear message instead of a silently ignored setting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EVAL_NAMES = ("eval", "valid", "validation")


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str]
    input_cols: list[str] | None = None
    label_col: str | None = None
    shard: bool = False


class ScalingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num_nodes: int = Field(1, ge=1)
    num_workers_per_node: int = Field(1, ge=1)
    num_cpus_per_worker: float = Field(1, gt=0)
    num_gpus_per_worker: float = Field(0, ge=0)
    use_gpu: bool = False

    @property
    def world_size(self) -> int:
        return self.num_nodes * self.num_workers_per_node


class TrainingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    framework: Literal["xgboost", "lightgbm", "pytorch"]
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    num_boost_round: int | None = None
    n_estimators: int | None = None
    entrypoint: str | None = None
    hyper_params: dict[str, Any] = Field(default_factory=dict)
    scaling: ScalingSpec = Field(default_factory=ScalingSpec)  # type: ignore[arg-type]
    model_dir: str
    run_dir: str
    project_dir: str | None = None
    egress: list[str] = Field(default_factory=list)
    input_fingerprint: str = ""
    early_stopping_rounds: int | None = None

    @classmethod
    def load(cls, path: str | Path) -> TrainingSpec:
        return cls.model_validate(json.loads(Path(path).read_text()))

    def train_dataset_name(self) -> str | None:
        """ "train" when present, else the first dataset that is not an eval set."""
        if "train" in self.datasets:
            return "train"
        rest = [n for n in self.datasets if n not in EVAL_NAMES]
        return rest[0] if rest else None

    def eval_dataset_name(self) -> str | None:
        return next((n for n in EVAL_NAMES if n in self.datasets), None)

    def boost_rounds(self, default: int = 100) -> int:
        """num_boost_round, else n_estimators, else the same keys inside params."""
        for value in (
            self.num_boost_round,
            self.n_estimators,
            self.params.get("num_boost_round"),
            self.params.get("n_estimators"),
        ):
            if value is not None:
                return int(value)
        return default
