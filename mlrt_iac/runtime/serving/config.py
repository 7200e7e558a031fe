"""Settings of one inference-server instance (what the serving command line carries)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Limits on what one client may send (each also a command-line flag; see __init__.py)
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024  # one request body (413)
DEFAULT_MAX_REQUEST_ROWS = 100_000  # rows in one request (413): a safety limit, not a batch size
# rows of several waiting requests merged into one prediction call at most (0: no merging)
DEFAULT_BATCH_ROWS = 4096
# rows handed to the model in one call at most (the service's max_batch_rows): a larger request is
# cut into calls of this many rows, predicted one after another and answered as one; None: no limit
DEFAULT_MAX_BATCH_ROWS: int | None = None
# request bodies (bytes) handed to the model as one batch at most; a batch within this many bytes
# runs on the worker's event loop, a single larger request on its prediction thread
BATCH_BYTES = 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024  # request line + headers (431)
DEFAULT_REQUEST_TIMEOUT_S = 10.0  # from a request's first byte to the end of its body (408)
# seconds an idle keep-alive connection stays open. Longer than the clients' and load balancers'
# own idle timeouts (httpx 5 s, AWS ALB 60 s) so that they, not the server, close an idle
# connection: a server closing at the moment a client reuses the connection resets that request.
# nginx's default.
DEFAULT_KEEP_ALIVE_S = 75.0
# seconds a stopping worker (a rollover's old instance) keeps its connections for their next
# request, answered with `Connection: close`, before it closes those still idle (worker.py)
DEFAULT_DRAIN_S = 5.0
# request bodies one worker holds at once, read or being read (503 beyond): by default this many
# bodies of the largest size
BUFFERED_BODIES = 4
# The ASGI scope key under which the HTTP protocol hands the app a request's read deadline
# (event-loop time by which its body must have arrived; None once it has all arrived).
DEADLINE_KEY = "mlrt.deadline"


class ServeConfig(BaseModel):
    """Everything an instance and its worker processes need; pickled to each spawned worker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_uri: Path
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_queue: int = Field(default=16, ge=0)
    max_request_rows: int = Field(default=DEFAULT_MAX_REQUEST_ROWS, ge=1)
    max_batch_rows: int | None = Field(default=DEFAULT_MAX_BATCH_ROWS, ge=1)
    batch_rows: int = Field(default=DEFAULT_BATCH_ROWS, ge=0)
    functions: tuple[str, ...] | None = None
    # "module:Name" of the project's class or loader function that makes the model (custom.py)
    model_class: str | None = None
    project_dir: Path | None = None  # where model_class's module is imported from (default: cwd)
    instance_id: str = "0"
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, ge=256)
    request_timeout_s: float = Field(default=DEFAULT_REQUEST_TIMEOUT_S, gt=0)
    keep_alive_s: float = Field(default=DEFAULT_KEEP_ALIVE_S, gt=0)
    max_buffered_bytes: int | None = Field(default=None, ge=1)  # None: BUFFERED_BODIES x max_body_bytes
    threads_per_worker: int | None = Field(default=None, ge=1)
    max_connections_per_worker: int = Field(default=4096, ge=1)
    graceful_timeout_s: float = Field(default=30.0, gt=0)
    drain_timeout_s: float = Field(default=DEFAULT_DRAIN_S, gt=0)  # within graceful_timeout_s
    backlog: int = Field(default=2048, ge=1)
    ready_file: Path | None = None

    @model_validator(mode="after")
    def _one_body_fits(self) -> ServeConfig:
        if self.max_buffered_bytes is not None and self.max_buffered_bytes < self.max_body_bytes:
            raise ValueError(
                f"max_buffered_bytes ({self.max_buffered_bytes}) is smaller than max_body_bytes "
                f"({self.max_body_bytes}): a request of the largest allowed size could never be read"
            )
        return self

    @property
    def body_budget(self) -> int:
        """Bytes of request bodies one worker may hold at once."""
        if self.max_buffered_bytes is not None:
            return self.max_buffered_bytes
        return BUFFERED_BODIES * self.max_body_bytes

    def predict_threads(self, cpu_count: int) -> int:
        """Threads each worker's model may use: the machine's cores split between the workers.

        The libraries' default (every core in every worker) oversubscribes the machine and makes a
        100-row XGBoost prediction ~30x slower on 2 cores, so each worker gets its share instead.
        """
        if self.threads_per_worker is not None:
            return self.threads_per_worker
        return max(1, cpu_count // self.workers)
