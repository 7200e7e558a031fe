"""``python -m mlrt_iac.runtime.serving``: one inference-server instance (supervisor + workers)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from mlrt_iac.runtime.serving.config import (
    BUFFERED_BODIES,
    DEFAULT_BATCH_ROWS,
    DEFAULT_DRAIN_S,
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MAX_BATCH_ROWS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_REQUEST_ROWS,
    DEFAULT_REQUEST_TIMEOUT_S,
    ServeConfig,
)
from mlrt_iac.runtime.serving.errors import ModelLoadError
from mlrt_iac.runtime.serving.instance import run_instance


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlrt_iac.runtime.serving",
        description="Serve an mlrt model artifact over HTTP in the Snowflake service-function format.",
    )
    parser.add_argument("--model-uri", required=True, help="model directory (metadata.json + model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1, help="worker processes of this instance")
    parser.add_argument(
        "--max-queue",
        type=int,
        default=16,
        help="requests that may wait per instance; beyond it, 503 + Retry-After",
    )
    parser.add_argument(
        "--max-request-rows",
        type=int,
        default=DEFAULT_MAX_REQUEST_ROWS,
        help=f"rows per request at most; beyond, 413 (default {DEFAULT_MAX_REQUEST_ROWS})",
    )
    parser.add_argument(
        "--max-batch-rows",
        type=int,
        default=DEFAULT_MAX_BATCH_ROWS,
        help="rows handed to the model in one call at most: a larger request is cut into calls of "
        "this many rows, predicted one after another and answered as one (default: no limit)",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=DEFAULT_BATCH_ROWS,
        help="rows of waiting requests merged into one prediction call at most; 0 predicts every "
        f"request on its own (default {DEFAULT_BATCH_ROWS})",
    )
    parser.add_argument(
        "--functions", default=None, help="comma-separated functions to serve (default: all the model offers)"
    )
    parser.add_argument(
        "--model-class",
        default=None,
        help='"module:Name": the project\'s class or loader function that makes the model (needed '
        "for a PyTorch state dict and for custom models)",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="directory --model-class is imported from (default: the current directory)",
    )
    parser.add_argument("--instance-id", default="0")
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"bytes of one request body at most; beyond, 413 (default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--max-header-bytes",
        type=int,
        default=DEFAULT_MAX_HEADER_BYTES,
        help=f"bytes of a request line and headers at most; beyond, 431 (default {DEFAULT_MAX_HEADER_BYTES})",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        help="seconds from a request's first byte until its body must have arrived; then 408 and "
        f"the connection closes (default {DEFAULT_REQUEST_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=float,
        default=DEFAULT_KEEP_ALIVE_S,
        help="seconds an idle keep-alive connection stays open; keep it above the clients' and "
        f"load balancers' idle timeouts (default {DEFAULT_KEEP_ALIVE_S:g})",
    )
    parser.add_argument(
        "--max-buffered-bytes",
        type=int,
        default=None,
        help="bytes of request bodies one worker holds at once (read or being read); beyond, 503 "
        f"(default {BUFFERED_BODIES} x --max-body-bytes)",
    )
    parser.add_argument(
        "--threads-per-worker",
        type=int,
        default=None,
        help="threads each worker's model uses (default: cores / workers)",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="write JSON {pid, port, instance, ...} here once every worker is ready",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        help="seconds in-flight requests get to finish on SIGTERM",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=DEFAULT_DRAIN_S,
        help="seconds a stopping worker keeps idle keep-alive connections open for their next "
        "request, answered with 'Connection: close', before closing them (part of the graceful "
        f"timeout; default {DEFAULT_DRAIN_S:g})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    functions = None
    if args.functions:
        functions = tuple(f.strip() for f in args.functions.split(",") if f.strip())
    try:
        config = ServeConfig(
            model_uri=Path(args.model_uri),
            host=args.host,
            port=args.port,
            workers=args.workers,
            max_queue=args.max_queue,
            max_request_rows=args.max_request_rows,
            max_batch_rows=args.max_batch_rows,
            batch_rows=args.batch_rows,
            functions=functions,
            model_class=args.model_class,
            project_dir=args.project_dir,
            instance_id=args.instance_id,
            max_body_bytes=args.max_body_bytes,
            max_header_bytes=args.max_header_bytes,
            request_timeout_s=args.request_timeout,
            keep_alive_s=args.keep_alive_timeout,
            max_buffered_bytes=args.max_buffered_bytes,
            threads_per_worker=args.threads_per_worker,
            graceful_timeout_s=args.graceful_timeout,
            drain_timeout_s=args.drain_timeout,
            ready_file=args.ready_file,
        )
    except ValidationError as exc:
        print(f"Error: invalid serving options\n\n{exc}", file=sys.stderr)
        return 2
    try:
        return run_instance(config)
    except ModelLoadError as exc:
        print(f"Error: cannot start the inference server\n\n{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
