"""One XGBoost worker: trains alone, or as one rank of a collective (RabitTracker) group
so N workers build ONE model over their shards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlrt_iac.runtime.artifact import MODEL_FILES, write_metadata
from mlrt_iac.runtime.boosted import default_threads, load_boosted_inputs, strip_round_keys
from mlrt_iac.runtime.context import TrainingContext
from mlrt_iac.runtime.spec import TrainingSpec


def _num_classes(params: dict[str, Any]) -> int | None:
    value = params.get("num_class")
    return int(value) if value is not None else None


def train_xgboost(spec: TrainingSpec, ctx: TrainingContext, worker_args: dict[str, Any]) -> dict[str, Any]:
    """Train, save the model from rank 0, and return the final metrics."""
    from .libs import import_xgboost

    xgb = import_xgboost()
    from xgboost import collective
    from xgboost.callback import TrainingCallback

    params = strip_round_keys(dict(spec.params))
    if "nthread" not in params and "n_jobs" not in params:
        params["nthread"] = default_threads(spec)
    if spec.scaling.use_gpu and worker_args.get("cuda"):
        params.setdefault("device", "cuda")
    rounds = spec.boost_rounds()
    reporter = ctx.get_metrics_reporter()
    reporter.total = rounds

    class Progress(TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            metrics = {
                f"{data}-{name}": float(values[-1])
                for data, per_metric in evals_log.items()
                for name, values in per_metric.items()
            }
            reporter.log_metrics(metrics, step=epoch + 1)
            return False

    def run() -> tuple[Any, dict[str, Any]]:
        inputs = load_boosted_inputs(spec, ctx)
        nthread = int(params.get("nthread") or params.get("n_jobs") or 1)
        dtrain = xgb.DMatrix(inputs.train.X, label=inputs.train.y, nthread=nthread)
        evals = [(dtrain, "train")]
        if inputs.eval is not None:
            deval = xgb.DMatrix(inputs.eval.X, label=inputs.eval.y, nthread=nthread)
            evals.append((deval, "eval"))
        early = spec.early_stopping_rounds if inputs.eval is not None else None
        history: dict[str, Any] = {}
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=rounds,
            evals=evals,
            evals_result=history,
            early_stopping_rounds=early,
            verbose_eval=False,
            callbacks=[Progress()],
        )
        metrics = {
            f"{data}-{name}": float(values[-1])
            for data, per_metric in history.items()
            for name, values in per_metric.items()
        }
        metrics["num_boosted_rounds"] = booster.num_boosted_rounds()
        if early is not None:
            metrics["best_iteration"] = int(booster.best_iteration)
            metrics["best_score"] = float(booster.best_score)
        if ctx.get_rank() == 0:
            model_dir = Path(spec.model_dir)
            model_dir.mkdir(parents=True, exist_ok=True)
            booster.save_model(str(model_dir / MODEL_FILES["xgboost"]))
            write_metadata(
                model_dir,
                framework="xgboost",
                framework_version=xgb.__version__,
                model_file=MODEL_FILES["xgboost"],
                input_cols=inputs.features,
                dtypes=inputs.dtypes,
                label_col=inputs.label,
                objective=params.get("objective"),
                num_classes=_num_classes(params),
                metrics=metrics,
                input_fingerprint=spec.input_fingerprint,
            )
        return booster, metrics

    if ctx.get_world_size() == 1:
        return run()[1]
    tracker = dict(worker_args["tracker"])
    with collective.CommunicatorContext(**tracker, dmlc_task_id=f"{ctx.get_rank():05d}"):
        if collective.get_rank() != ctx.get_rank():
            raise RuntimeError(
                f"XGBoost collective gave rank {collective.get_rank()} to worker "
                f"{ctx.get_rank()}; ranks must match for sharding."
            )
        return run()[1]
