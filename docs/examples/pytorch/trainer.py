"""The training function mlrt runs (entrypoint = "trainer:train"), once per worker."""

import itertools
import os

import torch
import torch.distributed as dist
from net import FEATURES, Net

from mlrt_iac.runtime import get_context


def features(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """A batch is {column: tensor of batch_size rows}; stack the inputs into (rows, 4) floats."""
    return torch.stack([batch[c].float() for c in FEATURES], dim=1)


def mean_squared_error(model: torch.nn.Module, data) -> float:
    total, rows = 0.0, 0
    with torch.no_grad():
        for batch in data.to_torch_dataset(batch_size=1024):
            err = model(features(batch)) - batch["y"].float()
            total, rows = total + float((err**2).sum()), rows + len(err)
    return total / max(rows, 1)


def train() -> None:
    ctx = get_context()
    hp = ctx.get_hyper_params()  # the training's hyper_params block
    distributed = ctx.get_world_size() > 1
    if distributed:  # mlrt sets MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE
        dist.init_process_group(backend=ctx.get_default_backend())

    torch.manual_seed(0)
    model = Net()
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=float(hp.get("lr", 0.01)))
    datasets = ctx.get_dataset_map()  # {"train": ..., "eval": ...}: this worker's shards
    reporter = ctx.get_metrics_reporter()

    for epoch in range(int(hp.get("epochs", 5))):
        train_data = datasets["train"].to_torch_dataset(
            batch_size=int(hp.get("batch_size", 256)), shuffle=True, seed=epoch
        )
        # Shards differ by at most one row, which can mean one batch more on some workers; under
        # DDP every worker must take the same number of steps, so all take the smallest count.
        steps = torch.tensor(len(train_data))
        if distributed:
            dist.all_reduce(steps, op=dist.ReduceOp.MIN)
        for batch in itertools.islice(train_data, int(steps)):
            loss = torch.nn.functional.mse_loss(model(features(batch)), batch["y"].float())
            opt.zero_grad()
            loss.backward()
            opt.step()
        reporter.log_metrics({"epoch": epoch + 1, "train_loss": loss.item()})

    # rank 0's metrics become the training's `metrics` attribute (here: on rank 0's eval shard)
    reporter.log_metrics({"eval_mse": mean_squared_error(model, datasets["eval"])})
    if ctx.get_rank() == 0:  # one copy of the weights; DDP wraps the model in .module
        weights = getattr(model, "module", model).state_dict()
        torch.save(weights, os.path.join(ctx.get_model_dir(), "model.pt"))
