import pytest

from mlrt_iac.model import describe_type
from mlrt_iac.values import UNKNOWN

from ._helpers import POOL, make, run, training


def test_describe_compute_pool() -> None:
    args = {a.name: a for a in describe_type("compute_pool")}
    assert args["instance_family"].required and args["instance_family"].type == "string"
    assert (
        args["min_nodes"].default == 1
        and args["min_nodes"].type == "number"
        and not args["min_nodes"].required
    )
    assert args["auto_suspend_secs"].default == 3600 and args["labels"].default == {}
    assert args["nodes"].computed and args["state"].computed and not args["max_nodes"].computed
    assert all(a.description for a in args.values())


def test_describe_training_lists_nested_blocks() -> None:
    args = {a.name: a for a in describe_type("training")}
    assert args["framework"].type == '"xgboost" | "lightgbm" | "pytorch"'
    assert args["scaling"].type == "block" and args["scaling.num_nodes"].default == 1
    assert args["scaling.use_gpu"].default is False
    assert args["dataset.NAME.source"].required and args["dataset.NAME.source"].type == "list(string)"
    assert args["model_uri"].computed


def test_describe_service_defaults() -> None:
    args = {a.name: a for a in describe_type("service")}
    assert args["functions"].default == ["predict"] and args["max_instances"].default == 1
    assert args["compute_pool"].required and args["model"].required


def test_describe_unknown_type() -> None:
    with pytest.raises(KeyError):
        describe_type("nope")


def test_thousands_of_instances_validate_together() -> None:
    """The scale the config benchmark uses: every instance validated, references resolved."""
    insts = []
    for i in range(1000):
        insts.append(make("compute_pool", f"p{i}", POOL))
        insts.append(
            make("training", f"t{i}", training(f"p{i}", params={"eta": UNKNOWN}), deps={f"compute_pool.p{i}"})
        )
    models, diags = run(*insts)
    assert not diags and len(models) == 2000
    assert models["training.t999"].references == {"compute_pool": ("compute_pool.p999",)}
