"""One LightGBM worker: alone, or one machine of LightGBM's socket-based data-parallel
training (tree_learner=data), so N workers build ONE model over their shards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlrt_iac.runtime.artifact import MODEL_FILES, write_metadata
from mlrt_iac.runtime.boosted import default_threads, load_boosted_inputs, strip_round_keys
from mlrt_iac.runtime.context import TrainingContext
from mlrt_iac.runtime.spec import TrainingSpec


def train_lightgbm(spec: TrainingSpec, ctx: TrainingContext, worker_args: dict[str, Any]) -> dict[str, Any]:
    """Train, save the model from rank 0, and return the final metrics."""
    from .libs import import_lightgbm

    lgb = import_lightgbm()

    params = strip_round_keys(dict(spec.params))
    if not any(k in params for k in ("num_threads", "n_jobs", "nthread", "num_thread")):
        params["num_threads"] = default_threads(spec)
    params.setdefault("verbosity", -1)
    world = ctx.get_world_size()
    if world > 1:
        ports = [int(p) for p in worker_args["ports"]]
        params.update(
            tree_learner=params.get("tree_learner", "data"),
            machines=",".join(f"127.0.0.1:{p}" for p in ports),
            local_listen_port=ports[ctx.get_rank()],
            num_machines=world,
            pre_partition=True,
            time_out=int(worker_args.get("time_out_minutes", 5)),
        )
    rounds = spec.boost_rounds()
    reporter = ctx.get_metrics_reporter()
    reporter.total = rounds
    inputs = load_boosted_inputs(spec, ctx)
    dtrain = lgb.Dataset(inputs.train.X, label=inputs.train.y, free_raw_data=False)
    valid_sets, valid_names = [dtrain], ["train"]
    if inputs.eval is not None:
        valid_sets.append(lgb.Dataset(inputs.eval.X, label=inputs.eval.y, reference=dtrain))
        valid_names.append("eval")
    last: dict[str, Any] = {}

    def progress(env: Any) -> None:
        metrics = {f"{data}-{name}": float(value) for data, name, value, *_ in env.evaluation_result_list}
        last.clear()
        last.update(metrics)
        reporter.log_metrics(metrics, step=env.iteration + 1)

    callbacks: list[Any] = [progress]
    if inputs.eval is not None and spec.early_stopping_rounds:
        callbacks.append(lgb.early_stopping(spec.early_stopping_rounds, verbose=False))
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=rounds,
        valid_sets=valid_sets,
        valid_names=valid_names,
        callbacks=callbacks,
    )
    metrics = dict(last)
    metrics["num_boosted_rounds"] = booster.current_iteration()
    if inputs.eval is not None and spec.early_stopping_rounds:
        metrics["best_iteration"] = int(booster.best_iteration)
    if ctx.get_rank() == 0:
        model_dir = Path(spec.model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(model_dir / MODEL_FILES["lightgbm"]))
        num_class = params.get("num_class")
        write_metadata(
            model_dir,
            framework="lightgbm",
            framework_version=lgb.__version__,
            model_file=MODEL_FILES["lightgbm"],
            input_cols=inputs.features,
            dtypes=inputs.dtypes,
            label_col=inputs.label,
            objective=params.get("objective"),
            num_classes=int(num_class) if num_class is not None else None,
            metrics=metrics,
            input_fingerprint=spec.input_fingerprint,
        )
    return metrics
