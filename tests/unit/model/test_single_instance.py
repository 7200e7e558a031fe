"""Validating one instance alone, as the planner does: no cross-block errors, but what the
instance's own reference values tell is still derived."""

from typing import Any

from mlrt_iac.config.instances import ResourceInstance
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.model import validate_instances as _validate
from mlrt_iac.model.derive import split_address
from mlrt_iac.values import UNKNOWN

from ._helpers import POOL, make, only, training


def validate_instances(
    insts: list[ResourceInstance], cross: bool = False
) -> tuple[dict[str, Any], Diagnostics]:
    models, diags = _validate(insts, cross=cross)
    return dict(models), diags


def test_without_cross_a_plain_name_is_not_an_undeclared_reference() -> None:
    svc = make("service", "s", {"compute_pool": "cpu", "model": "m"})
    models, diags = validate_instances([svc])
    assert not diags and models["service.s"].references == {"compute_pool": ()}
    _, diags = validate_instances([svc], cross=True)
    assert only(diags, "Reference to undeclared resource")


def test_references_come_from_depends_on() -> None:
    t = make(
        "training",
        "t",
        training("cpu", external_access_integrations=[{"name": "pypi"}, {"name": "gh"}]),
        deps={
            "compute_pool.cpu",
            "external_access_integration.pypi",
            "external_access_integration.gh",
            "network_rule.x",
        },
    )
    models, diags = validate_instances([t])
    assert not diags
    assert models["training.t"].references == {
        "compute_pool": ("compute_pool.cpu",),
        "external_access_integrations": (
            "external_access_integration.pypi",
            "external_access_integration.gh",
        ),
    }


def test_renamed_pool_reference_resolves_through_its_only_dependency() -> None:
    svc = make(
        "service",
        "s",
        {"compute_pool": {"name": "big-one", "instance_family": "CPU_X64_M"}, "model": "m"},
        module='module.team["a.b"]',
        deps={'module.team["a.b"].compute_pool.main[0]'},
    )
    models, diags = validate_instances([svc])
    assert not diags
    m = models['module.team["a.b"].service.s']
    assert m.references == {"compute_pool": ('module.team["a.b"].compute_pool.main[0]',)}
    assert m.num_workers == 13  # CPU_X64_M has 6 vCPUs: 2 x 6 + 1


def test_num_workers_defaults_alone() -> None:
    gpu = make("service", "s", {"compute_pool": {"name": "p"}, "model": "m", "gpu_requests": 1})
    assert validate_instances([gpu])[0]["service.s"].num_workers == 1
    unknown_family = make(
        "service", "s", {"compute_pool": {"name": "p", "instance_family": UNKNOWN}, "model": "m"}
    )
    assert validate_instances([unknown_family])[0]["service.s"].num_workers is None


def test_effective_egress_from_rule_values() -> None:
    eai = make(
        "external_access_integration",
        "e",
        {
            "allowed_network_rules": [
                {"name": "pypi", "mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org"]},
                {"name": "db", "mode": "egress", "type": "ipv4", "value_list": ["10.0.0.0/16"]},
            ]
        },
    )
    models, diags = validate_instances([eai])
    assert not diags
    assert models["external_access_integration.e"].effective_egress == ["pypi.org:443", "10.0.0.0/16:*"]
    later = make(
        "external_access_integration",
        "e",
        {
            "allowed_network_rules": [
                {"name": "pypi", "mode": "EGRESS", "type": "HOST_PORT", "value_list": UNKNOWN}
            ]
        },
    )
    assert validate_instances([later])[0]["external_access_integration.e"].effective_egress is None


def test_json_dump_keeps_unknown() -> None:
    svc = make("service", "s", {"compute_pool": UNKNOWN, "model": "m", "functions": ["predict", UNKNOWN]})
    t = make("training", "t", training(params={"eta": UNKNOWN}, scaling={"num_nodes": UNKNOWN}))
    models, diags = validate_instances([svc, t])
    assert not diags
    data = models["service.s"].model_dump(mode="json")
    assert data["compute_pool"] is UNKNOWN and data["functions"] == ["predict", UNKNOWN]
    data = models["training.t"].model_dump(mode="json", exclude={"run_id"})
    assert data["params"] == {"eta": UNKNOWN} and data["scaling"]["num_nodes"] is UNKNOWN
    assert type(data["scaling"]["num_cpus_per_worker"]) is int and "run_id" not in data  # 1, not 1.0
    assert make("compute_pool", "p", POOL).attributes == POOL


def test_split_address() -> None:
    assert split_address('module.m["x.y"].compute_pool.cpu[0]') == ("compute_pool", "cpu")
    assert split_address("training.t") == ("training", "t")
