"""The training context a training function asks for with ``get_context()``.

Method names follow Snowflake's PyTorch distributor (``get_rank``, ``get_dataset_map``,
``get_metrics_reporter().log_metrics`` ...) so such a function runs with only its imports
changed. The context is plain data plus a metrics sink: the launcher builds it from
environment variables and the job spec; a Ray Train worker builds it with
``TrainingContext.from_ray_train(spec)`` and a sink of its choice.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlrt_iac.runtime.events import clean_metrics, encode_marker

if TYPE_CHECKING:
    from mlrt_iac.runtime.data_connector import DataConnector

MetricsSink = Callable[[dict[str, Any]], None]

SPEC_ENV = "MLRT_SPEC"


def stdout_marker_sink(payload: dict[str, Any]) -> None:
    """Send an event to the launcher as a marker line on this process's stdout."""
    sys.stdout.write(encode_marker(payload))
    sys.stdout.flush()


class MetricsReporter:
    """``log_metrics({...})`` sends metrics to the run's progress (rank 0's become the
    run's progress events and final metrics; other ranks' go to their logs)."""

    def __init__(self, rank: int = 0, sink: MetricsSink | None = None, total: int | None = None):
        self._rank = rank
        self._sink = sink
        self._step = 0
        self._lock = threading.Lock()
        self.total = total
        self.last: dict[str, Any] = {}

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        values = clean_metrics(dict(metrics))
        with self._lock:
            self._step = step if step is not None else self._step + 1
            self.last.update(values)
            payload = {
                "kind": "progress",
                "rank": self._rank,
                "step": self._step,
                "total": self.total,
                "metrics": values,
            }
        if self._sink is not None:
            self._sink(payload)


class TrainingContext:
    """Rank information, datasets, hyper-parameters and the model directory of one worker."""

    def __init__(
        self,
        *,
        rank: int = 0,
        local_rank: int = 0,
        world_size: int = 1,
        node_rank: int = 0,
        local_world_size: int | None = None,
        master_addr: str | None = None,
        master_port: int | None = None,
        datasets: Mapping[str, Mapping[str, Any]] | None = None,
        dataset_map: Mapping[str, DataConnector] | None = None,
        hyper_params: Mapping[str, Any] | None = None,
        model_dir: str | None = None,
        metrics_reporter: MetricsReporter | None = None,
        backend: str = "gloo",
    ) -> None:
        self._rank = rank
        self._local_rank = local_rank
        self._world_size = world_size
        self._node_rank = node_rank
        self._local_world_size = local_world_size or world_size
        self._master_addr = master_addr
        self._master_port = master_port
        self._dataset_specs = dict(datasets or {})
        self._dataset_map: dict[str, DataConnector] | None = (
            dict(dataset_map) if dataset_map is not None else None
        )
        self._hyper_params = dict(hyper_params or {})
        self._model_dir = model_dir
        self._reporter = metrics_reporter or MetricsReporter(rank)
        self._backend = backend

    # ---- Snowflake-style accessors -------------------------------------------------
    def get_rank(self) -> int:
        return self._rank

    def get_local_rank(self) -> int:
        return self._local_rank

    def get_world_size(self) -> int:
        return self._world_size

    def get_local_world_size(self) -> int:
        return self._local_world_size

    def get_node_rank(self) -> int:
        return self._node_rank

    def get_master_addr(self) -> str | None:
        return self._master_addr

    def get_master_port(self) -> int | None:
        return self._master_port

    def get_default_backend(self) -> str:
        return self._backend

    def get_supported_backends(self) -> list[str]:
        return ["nccl", "gloo"] if self._backend == "nccl" else ["gloo"]

    def get_hyper_params(self) -> dict[str, Any]:
        return dict(self._hyper_params)

    def get_model_dir(self) -> str:
        if self._model_dir is None:
            raise RuntimeError(
                "No model directory in this training context. Run the function through "
                "mlrt (python -m mlrt_iac.runtime.launch SPEC.json) or pass model_dir=."
            )
        return self._model_dir

    def get_metrics_reporter(self) -> MetricsReporter:
        return self._reporter

    def get_dataset_map(self) -> dict[str, DataConnector]:
        """name -> DataConnector; datasets with shard=true are this rank's shard."""
        if self._dataset_map is None:
            from mlrt_iac.runtime.data_connector import DataConnector, ShardedDataConnector

            built: dict[str, DataConnector] = {}
            for name, spec in self._dataset_specs.items():
                dc = DataConnector.from_dataset(spec)
                if spec.get("shard"):
                    dc = ShardedDataConnector.from_connector(dc, world_size=self._world_size, rank=self._rank)
                built[name] = dc
            self._dataset_map = built
        return dict(self._dataset_map)

    def dataset_specs(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self._dataset_specs.items()}

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def from_spec(
        cls,
        spec: Mapping[str, Any],
        *,
        rank: int = 0,
        local_rank: int = 0,
        world_size: int = 1,
        node_rank: int = 0,
        local_world_size: int | None = None,
        master_addr: str | None = None,
        master_port: int | None = None,
        sink: MetricsSink | None = None,
        backend: str = "gloo",
    ) -> TrainingContext:
        """A context for one worker of the job described by a spec dict."""
        return cls(
            rank=rank,
            local_rank=local_rank,
            world_size=world_size,
            node_rank=node_rank,
            local_world_size=local_world_size,
            master_addr=master_addr,
            master_port=master_port,
            datasets=spec.get("datasets") or {},
            hyper_params=spec.get("hyper_params") or {},
            model_dir=spec.get("model_dir"),
            backend=backend,
            metrics_reporter=MetricsReporter(rank, sink),
        )

    @classmethod
    def from_env(
        cls,
        spec: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        sink: MetricsSink | None = stdout_marker_sink,
    ) -> TrainingContext:
        """Rank info from torchrun-style variables (RANK, LOCAL_RANK, WORLD_SIZE, NODE_RANK,
        LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT); the spec from ``MLRT_SPEC``."""
        env = os.environ if environ is None else environ
        if spec is None and env.get(SPEC_ENV):
            spec = json.loads(Path(env[SPEC_ENV]).read_text())
        spec = spec or {}
        world_size = int(env.get("WORLD_SIZE", "1"))
        port = env.get("MASTER_PORT")
        return cls.from_spec(
            spec,
            rank=int(env.get("RANK", "0")),
            local_rank=int(env.get("LOCAL_RANK", "0")),
            world_size=world_size,
            node_rank=int(env.get("NODE_RANK", env.get("GROUP_RANK", "0"))),
            local_world_size=int(env.get("LOCAL_WORLD_SIZE", str(world_size))),
            master_addr=env.get("MASTER_ADDR"),
            master_port=int(port) if port else None,
            sink=sink,
            backend=env.get("MLRT_TORCH_BACKEND", "gloo"),
        )

    @classmethod
    def from_ray_train(cls, spec: Mapping[str, Any], sink: MetricsSink | None = None) -> TrainingContext:
        """Inside a Ray Train worker: rank info from ``ray.train.get_context()``; metrics go
        to ``ray.train.report`` unless another sink is given."""
        import ray.train

        rc = ray.train.get_context()

        def report(payload: dict[str, Any]) -> None:
            ray.train.report(payload.get("metrics") or {})

        return cls.from_spec(
            spec,
            rank=rc.get_world_rank(),
            local_rank=rc.get_local_rank(),
            world_size=rc.get_world_size(),
            node_rank=rc.get_node_rank(),
            local_world_size=rc.get_local_world_size(),
            sink=sink or report,
        )


_current: TrainingContext | None = None


def set_context(context: TrainingContext | None) -> None:
    """Install the context get_context() returns in this process (the launcher does this)."""
    global _current
    _current = context


def get_context() -> TrainingContext:
    """The current worker's training context (set by the launcher, else from environment)."""
    global _current
    if _current is None:
        _current = TrainingContext.from_env()
    return _current


def current_rank_info() -> tuple[int, int]:
    """(world_size, rank) of this process, without building datasets."""
    if _current is not None:
        return _current.get_world_size(), _current.get_rank()
    return int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
