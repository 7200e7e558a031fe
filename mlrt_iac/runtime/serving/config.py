"""Settings of one inference-server instance (what the serving command line carries)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024  # one request body (413)
DEFAULT_MAX_BATCH_ROWS = 100_000  # rows in one request (413)


class ServeConfig(BaseModel):
    """Everything an instance and its worker processes need; pickled to each spawned worker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_uri: Path
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_queue: int = Field(default=16, ge=0)
    max_batch_rows: int = Field(default=DEFAULT_MAX_BATCH_ROWS, ge=1)
    functions: tuple[str, ...] | None = None
    instance_id: str = "0"
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    threads_per_worker: int | None = Field(default=None, ge=1)
    max_connections_per_worker: int = Field(default=4096, ge=1)
    graceful_timeout_s: float = Field(default=30.0, gt=0)
    backlog: int = Field(default=2048, ge=1)
    ready_file: Path | None = None

    def predict_threads(self, cpu_count: int) -> int:
        """Threads each worker's model may use: the machine's cores split between the workers.

        The libraries' default (every core in every worker) oversubscribes the machine and makes a
        100-row XGBoost prediction ~30x slower on 2 cores, so each worker gets its share instead.
        """
        if self.threads_per_worker is not None:
            return self.threads_per_worker
        return max(1, cpu_count // self.workers)
