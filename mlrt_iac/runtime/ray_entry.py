"""Ray glue of the ML runtime: a Ray Job's entrypoint for trainings and a Ray Serve app builder.

Training: ``python -m mlrt_iac.runtime.ray_entry SPEC`` (SPEC is a job-spec JSON file, or
``env:NAME`` for a spec held in an environment variable, which is how the Ray provider ships it
in the job's ``runtime_env``). It runs Ray Train (``XGBoostTrainer``, ``LightGBMTrainer``,
``TorchTrainer``) with a ``ScalingConfig`` from the spec's scaling; every Ray Train worker runs
the same worker code as the local launcher (``mlrt_iac.runtime.worker.run_worker``) with a
``TrainingContext`` built from ``ray.train.get_context()``, so ``get_context()`` answers the same
and the model artifact has the same format. Events are the launcher's JSON lines on stdout (the
job's log) plus ``run_dir/events.jsonl`` and ``run_dir/result.json`` when run_dir is writable;
rank 0's progress travels as marker lines (``@@mlrt-event@@ {...}``) in the job's log.

Glue that would better live in the runtime proper (reported, not changed here):
- ``train_xgboost`` enters its own ``CommunicatorContext``; Ray Train's XGBoost backend enters one
  too, so the trainer here gets a backend config whose train-function context is empty and the
  worker passes Ray's tracker arguments through ``worker_args["tracker"]``.
- ``train_lightgbm`` assumes all machines are 127.0.0.1; the ports come from Ray's network
  parameters, so multi-host LightGBM needs ``worker_args["machines"]`` support there.
- PyTorch functions call ``dist.init_process_group`` themselves (as under torchrun); Ray Train has
  already done it, so that call becomes a no-op inside Ray Train workers.

Serving: ``build_app(args)`` is the import path ``mlrt_iac.runtime.ray_entry:build_app`` given to
the Serve REST API; its deployment answers like the local inference server (``GET /health``,
``POST /<function>`` with ``{"data": [[i, ...]]}``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mlrt_iac.runtime.events import encode_marker, now_iso
from mlrt_iac.runtime.spec import TrainingSpec

EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
SPEC_ENV = "MLRT_RAY_SPEC"


# ---------------------------------------------------------------------------------------------
# Training: inside every Ray Train worker
# ---------------------------------------------------------------------------------------------
def _rank0_marker_sink(payload: dict[str, Any]) -> None:
    """Rank 0's metrics become marker lines in the job's log; other ranks stay quiet."""
    if int(payload.get("rank", 0)) == 0:
        sys.stdout.write(encode_marker(payload))
        sys.stdout.flush()


def _idempotent_process_group() -> None:
    """Ray Train initialised torch.distributed already: a user's own init call is a no-op."""
    import torch.distributed as dist

    original = dist.init_process_group
    if getattr(original, "_mlrt_wrapped", False):
        return

    def init_process_group(*args: Any, **kwargs: Any) -> None:
        if dist.is_initialized():
            return
        original(*args, **kwargs)

    init_process_group._mlrt_wrapped = True  # type: ignore[attr-defined]
    dist.init_process_group = init_process_group


def _worker_args(framework: str) -> dict[str, Any]:
    if framework == "xgboost":
        from ray.train.xgboost import config as xgb_config

        args = dict(xgb_config._get_xgboost_args())
        args.pop("dmlc_task_id", None)
        return {"tracker": args} if args else {}
    if framework == "lightgbm":
        from ray.train.lightgbm import get_network_params

        params = get_network_params()
        machines = str(params.get("machines") or "")
        ports = [int(m.rsplit(":", 1)[1]) for m in machines.split(",") if ":" in m]
        return {"ports": ports, "machines": machines}
    return {}


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the local launcher's worker code with a Ray-built context."""
    from mlrt_iac.runtime.context import TrainingContext, set_context
    from mlrt_iac.runtime.worker import report_final, run_worker

    spec = TrainingSpec.model_validate(config["spec"])
    ctx = TrainingContext.from_ray_train(spec.model_dump(), sink=_rank0_marker_sink)
    ctx.get_metrics_reporter().total = spec.boost_rounds() if spec.framework != "pytorch" else None
    os.environ.update(
        {
            "MLRT_EGRESS": ",".join(spec.egress),
            "RANK": str(ctx.get_rank()),
            "WORLD_SIZE": str(ctx.get_world_size()),
            "LOCAL_RANK": str(ctx.get_local_rank()),
        }
    )
    if spec.framework == "pytorch":
        _idempotent_process_group()
    set_context(ctx)
    metrics = run_worker(spec, ctx, _worker_args(spec.framework))
    if ctx.get_rank() == 0:
        report_final(0, metrics)


def _no_communicator() -> Any:
    """An XGBoostConfig whose train-function context is empty (mlrt's worker enters its own)."""
    from ray.train.xgboost import XGBoostConfig

    class _Config(XGBoostConfig):
        @property
        def train_func_context(self) -> Any:
            @contextlib.contextmanager
            def nothing() -> Iterator[None]:
                yield

            return nothing

    return _Config()


def scaling_config(spec: TrainingSpec) -> Any:
    """Ray Train's ScalingConfig for the spec's scaling block."""
    from ray.train import ScalingConfig

    s = spec.scaling
    gpus = s.num_gpus_per_worker or (1.0 if s.use_gpu else 0.0)
    resources: dict[str, float] = {"CPU": float(s.num_cpus_per_worker)}
    if gpus:
        resources["GPU"] = float(gpus)
    return ScalingConfig(num_workers=s.world_size, use_gpu=bool(s.use_gpu), resources_per_worker=resources)


def build_trainer(spec: TrainingSpec, storage_path: str | None = None) -> Any:
    """The Ray Train trainer for the spec's framework (not started)."""
    from ray.train import RunConfig

    config = {"spec": spec.model_dump()}
    run_config = RunConfig(name=spec.run_id, storage_path=storage_path)
    common: dict[str, Any] = {
        "train_loop_config": config,
        "scaling_config": scaling_config(spec),
        "run_config": run_config,
    }
    if spec.framework == "xgboost":
        from ray.train.xgboost import XGBoostTrainer

        return XGBoostTrainer(train_loop_per_worker, xgboost_config=_no_communicator(), **common)
    if spec.framework == "lightgbm":
        from ray.train.lightgbm import LightGBMTrainer

        return LightGBMTrainer(train_loop_per_worker, **common)
    from ray.train.torch import TorchTrainer

    return TorchTrainer(train_loop_per_worker, **common)


# ---------------------------------------------------------------------------------------------
# Training: the job's driver
# ---------------------------------------------------------------------------------------------
def load_spec(arg: str) -> dict[str, Any]:
    """The spec from a file path, or from ``env:NAME``."""
    if arg.startswith("env:"):
        raw = os.environ.get(arg[4:])
        if not raw:
            raise ValueError(f"environment variable {arg[4:]} is empty or unset")
        data = json.loads(raw)
    else:
        data = json.loads(Path(arg).read_text())
    if not isinstance(data, dict):
        raise ValueError("the spec must be a JSON object")
    return data


class _Events:
    """The launcher's event lines on stdout, and in run_dir when it is writable here."""

    def __init__(self, run_dir: Path, stream: IO[str]) -> None:
        self.stream = stream
        self.run_dir: Path | None = run_dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            self.run_dir = None

    def emit(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str)
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.run_dir is not None:
            try:
                with open(self.run_dir / "events.jsonl", "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError:
                pass

    def result(self, payload: dict[str, Any]) -> None:
        if self.run_dir is None:
            return
        try:
            tmp = self.run_dir / "result.json.tmp"
            tmp.write_text(json.dumps(payload, indent=2, default=str))
            os.replace(tmp, self.run_dir / "result.json")
        except OSError:
            pass


def _final_metrics(model_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((model_dir / "metadata.json").read_text())
    except (OSError, ValueError):
        return {}
    metrics = meta.get("metrics") if isinstance(meta, dict) else None
    return dict(metrics) if isinstance(metrics, dict) else {}


def run(spec_arg: str, stream: IO[str]) -> int:
    """Run the training the spec describes on the Ray cluster this process belongs to."""
    try:
        raw = load_spec(spec_arg)
        if os.environ.get("MLRT_RAY_PROJECT_FROM_CWD") == "1":
            raw["project_dir"] = os.getcwd()  # the job's working_dir: the shipped project
        spec = TrainingSpec.model_validate(raw)
    except Exception as exc:
        stream.write(
            json.dumps(
                {
                    "event": "finished",
                    "status": "FAILED",
                    "metrics": {},
                    "model_uri": None,
                    "started_at": now_iso(),
                    "finished_at": now_iso(),
                    "error": f"invalid training spec {spec_arg}: {exc}",
                }
            )
            + "\n"
        )
        return EXIT_BAD_SPEC
    events = _Events(Path(spec.run_dir), stream)
    started = now_iso()
    events.emit(
        {"event": "started", "run_id": spec.run_id, "world_size": spec.scaling.world_size, "ts": started}
    )
    status, error, code = "SUCCEEDED", None, 0
    try:
        import ray

        if spec.project_dir and spec.project_dir not in sys.path:
            sys.path.insert(0, spec.project_dir)
        import logging

        ray.init(
            address=os.environ.get("RAY_ADDRESS") or "auto", log_to_driver=True, logging_level=logging.WARNING
        )
        Path(spec.model_dir).mkdir(parents=True, exist_ok=True)
        build_trainer(spec, storage_path=os.environ.get("MLRT_RAY_STORAGE")).fit()
        if not (Path(spec.model_dir) / "metadata.json").exists():
            raise RuntimeError(f"the run finished without writing {spec.model_dir}/metadata.json")
    except Exception as exc:
        traceback.print_exc()
        status, error, code = "FAILED", f"{type(exc).__name__}: {exc}", EXIT_FAILED
    payload = {
        "event": "finished",
        "status": status,
        "metrics": _final_metrics(Path(spec.model_dir)) if status == "SUCCEEDED" else {},
        "model_uri": str(Path(spec.model_dir).resolve()) if status == "SUCCEEDED" else None,
        "started_at": started,
        "finished_at": now_iso(),
        "error": error,
    }
    events.result(payload)
    events.emit(payload)
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m mlrt_iac.runtime.ray_entry SPEC.json | env:NAME\n")
        return EXIT_BAD_SPEC
    return run(args[0], sys.stdout)


# ---------------------------------------------------------------------------------------------
# Serving: a Ray Serve application answering like the local inference server
# ---------------------------------------------------------------------------------------------
class ModelServer:
    """One Serve replica: loads the artifact once, answers /health and POST /<function>."""

    def __init__(
        self,
        model_uri: str,
        functions: list[str] | None = None,
        max_batch_rows: int | None = None,
        threads: int = 1,
        model_class: str | None = None,
        project_dir: str | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        from mlrt_iac.runtime.serving.batch import BatchSpec
        from mlrt_iac.runtime.serving.config import (
            DEFAULT_BATCH_ROWS,
            DEFAULT_MAX_BODY_BYTES,
            DEFAULT_MAX_REQUEST_ROWS,
        )
        from mlrt_iac.runtime.serving.model import load_model

        self.model = load_model(
            model_uri,
            tuple(functions) if functions else None,
            threads=threads,
            model_class=model_class,
            project_dir=project_dir,
        )
        self.max_batch_rows = max_batch_rows
        self.max_body_bytes = max_body_bytes or DEFAULT_MAX_BODY_BYTES
        # as the local server: requests merged up to DEFAULT_BATCH_ROWS rows, no call of more
        # than max_batch_rows rows (a larger request is cut and answered as one)
        self.spec = BatchSpec(
            self.model.input_cols,
            self.model.input_dtype,
            DEFAULT_MAX_REQUEST_ROWS,
            DEFAULT_BATCH_ROWS,
            self.model.column_kinds,
            max_batch_rows,
        )
        self.health = json.dumps(
            {
                "status": "ok",
                "model": self.model.uri,
                "framework": self.model.framework,
                "functions": list(self.model.functions),
                "input_cols": self.model.input_cols,
                "pid": os.getpid(),
            }
        ).encode()

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, JSON body) for a request whose path is relative to the route prefix."""
        return self.handle_many([(method, path, body)])[0]

    def handle_many(self, requests: list[tuple[str, str, bytes]]) -> list[tuple[int, bytes]]:
        """`handle` for several requests at once (a `@serve.batch` batch), as the local server
        answers a batch (`serving.batch.answer_batch`): each is parsed and answered on its own (a
        bad one answers 400 alone), the rows of the requests for one function go to the model
        merged, and no call gets more than max_batch_rows rows."""
        from mlrt_iac.runtime.serving.batch import answer_batch

        answers: list[tuple[int, bytes] | None] = []
        todo: list[tuple[int, bytes, Any]] = []
        for i, (method, path, body) in enumerate(requests):
            got = self._route(method, path, body)
            answers.append(got if isinstance(got, tuple) else None)
            if not isinstance(got, tuple):
                todo.append((i, body, got))
        if todo:
            try:
                done = answer_batch([(body, fn) for _, body, fn in todo], self.spec)
            except Exception as exc:  # never leave a request unanswered
                done = [self._error(500, f"The server failed to answer the request: {exc}")] * len(todo)
            for (i, _, _), answer in zip(todo, done):
                answers[i] = answer
        return [a if a is not None else self._error(500, "no answer") for a in answers]

    @staticmethod
    def _error(status: int, message: str) -> tuple[int, bytes]:
        from mlrt_iac.runtime.serving.errors import RequestError

        return status, json.dumps(RequestError(status, message).to_json()).encode()

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, bytes] | Any:
        """The final answer (status, body), or the model function that answers the request."""
        name = path.strip("/").rsplit("/", 1)[-1]
        if name == "health":
            return 200, self.health
        if name not in self.model.functions:
            return self._error(
                404,
                f"No function at /{name}; this service offers "
                f"{', '.join('/' + f for f in self.model.functions)}.",
            )
        if method != "POST":
            return self._error(405, f"/{name} takes POST with a JSON body, not {method}.")
        if len(body) > self.max_body_bytes:
            return self._error(
                413,
                f"The body has {len(body)} bytes; this service takes at most {self.max_body_bytes}. "
                "Send fewer rows per request.",
            )
        return self.model.functions[name]


def build_app(args: dict[str, Any]) -> Any:
    """Serve application builder (import path ``mlrt_iac.runtime.ray_entry:build_app``).

    args: ``model_uri`` (required), ``functions``, ``max_batch_rows`` (rows per model call at
    most), ``max_body_bytes`` (413 beyond), ``threads``,
    ``model_class`` and ``project_dir`` (where its module is imported from: the project directory,
    which a local Ray cluster shares with mlrt),
    ``batch_size`` and ``batch_wait_s``: with ``batch_size`` > 1 the requests waiting in a replica
    are answered up to ``batch_size`` at a time (``@serve.batch``; each parsed and answered on its
    own, one model call for all their rows; ``batch_wait_s`` 0 takes only what is already
    waiting, so a lone request is not delayed). Replica count, admission limits and actor
    options come from the deployment's config (the provider sets them in the application's
    ``deployments`` entry).
    """
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import Response

    batch = int(args.get("batch_size") or 1)
    wait = float(args.get("batch_wait_s") or 0.0)

    @serve.deployment(name="MlrtModel")
    class MlrtModel:
        def __init__(self, options: dict[str, Any]) -> None:
            self.server = ModelServer(
                str(options["model_uri"]),
                options.get("functions"),
                options.get("max_batch_rows"),
                int(options.get("threads") or 1),
                options.get("model_class"),
                options.get("project_dir"),
                options.get("max_body_bytes"),
            )

        @serve.batch(max_batch_size=batch, batch_wait_timeout_s=wait)
        async def answer_many(self, requests: list[tuple[str, str, bytes]]) -> list[tuple[int, bytes]]:
            return self.server.handle_many(requests)

        async def __call__(self, request: Request) -> Response:
            # Async, and the model call inline on the replica's event loop: a sync __call__ would
            # hop to a thread per request, and the work is CPU-bound under one GIL either way.
            # Requests queued in the replica (max_ongoing_requests) wait on this loop for free.
            item = (request.method, request.scope["path"], await request.body())
            if batch > 1:
                status, payload = await self.answer_many(item)
            else:
                status, payload = self.server.handle(*item)
            headers = {"retry-after": "1"} if status == 503 else None
            return Response(payload, status_code=status, media_type="application/json", headers=headers)

        def check_health(self) -> None:
            """Serve calls this; a replica whose model loaded is healthy."""

    return MlrtModel.bind(dict(args))  # type: ignore[attr-defined]


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
