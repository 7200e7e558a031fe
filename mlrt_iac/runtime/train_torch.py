"""One PyTorch worker: import the user's ``module:function`` and run it with the training
context installed. torch.distributed is configured through the standard variables
(MASTER_ADDR, MASTER_PORT, RANK, LOCAL_RANK, WORLD_SIZE); the function calls
``dist.init_process_group(backend=ctx.get_default_backend())`` itself, as under Snowflake's
distributor or torchrun."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlrt_iac.runtime.artifact import MODEL_FILES, TORCH_EXPORT_FILE, torch_model_file, write_torch_metadata
from mlrt_iac.runtime.context import TrainingContext, set_context
from mlrt_iac.runtime.spec import TrainingSpec


class EntrypointError(ValueError):
    """The entrypoint is not "module:function" or does not name a callable."""


def load_entrypoint(entrypoint: str | None, project_dir: str | None) -> Callable[..., Any]:
    if not entrypoint or ":" not in entrypoint:
        raise EntrypointError(
            f'entrypoint {entrypoint!r} is not "module:function". '
            'Set entrypoint = "trainer:train" for a function train in trainer.py.'
        )
    module_name, func_name = entrypoint.split(":", 1)
    if project_dir and project_dir not in sys.path:
        sys.path.insert(0, project_dir)
    module = importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise EntrypointError(
            f"Module {module_name!r} has no function {func_name!r}. Check the entrypoint's function name."
        )
    return func


def _call(func: Callable[..., Any], ctx: TrainingContext) -> Any:
    """Snowflake train functions take no arguments; a Ray-style one gets the hyper-params."""
    required = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return func(ctx.get_hyper_params()) if required else func()


def train_torch(spec: TrainingSpec, ctx: TrainingContext, worker_args: dict[str, Any]) -> dict[str, Any]:
    """Run the entrypoint; rank 0 writes the artifact's metadata afterwards."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(max(1, int(spec.scaling.num_cpus_per_worker)))
    func = load_entrypoint(spec.entrypoint, spec.project_dir)
    set_context(ctx)
    _call(func, ctx)
    # Only on success: a failed worker keeps its sockets until it has reported the failure,
    # so its peers fail after it and the launcher blames the right worker.
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    metrics = dict(ctx.get_metrics_reporter().last)
    if ctx.get_rank() == 0:
        model_dir = Path(spec.model_dir)
        if torch_model_file(model_dir) is None:
            # A run without a model would be SUCCEEDED with nothing a service could load.
            raise EntrypointError(
                f"The entrypoint {spec.entrypoint} finished without saving a model. Save it on "
                "rank 0 with torch.save(model.state_dict(), os.path.join(get_context()."
                f"get_model_dir(), '{MODEL_FILES['pytorch']}')) (the service then names the class "
                "in model_class), or with mlrt_iac.runtime.save_torch_model(model) (a torch.export "
                f"program, {TORCH_EXPORT_FILE})."
            )
        model_dir.mkdir(parents=True, exist_ok=True)
        datasets = {k: v.model_dump() for k, v in spec.datasets.items()}
        write_torch_metadata(model_dir, datasets, metrics, spec.input_fingerprint)
    return metrics
