"""Cross-block checks: each error names both blocks (range = the user, related = the pool/EAI)."""

from mlrt_iac.config.instances import ResourceInstance
from mlrt_iac.diagnostics import Diagnostic, SourceRange
from mlrt_iac.model import build_catalog, cross_check, validate_instance
from mlrt_iac.values import UNKNOWN

from ._helpers import GPU_POOL, POOL, line_of, make, only, run, training

FIT = "Training does not fit its compute pool"
SFIT = "Service does not fit its compute pool"


def cpu_pool(line: int = 1, **attrs: object) -> ResourceInstance:
    return make("compute_pool", "cpu", {**POOL, **attrs}, line=line)


def gpu_pool(line: int = 1) -> ResourceInstance:
    return make("compute_pool", "gpu", GPU_POOL, line=line)


def train(
    pool: str = "cpu", line: int = 20, lines: dict[str, int] | None = None, **extra: object
) -> ResourceInstance:
    return make(
        "training", "t", training(pool, **extra), line=line, attr_lines=lines, deps={f"compute_pool.{pool}"}
    )


def related_line(d: Diagnostic) -> int:
    return d.related[0].start.line


def test_more_nodes_than_max_nodes() -> None:
    _, diags = run(cpu_pool(line=2), train(scaling={"num_nodes": 3}, lines={"scaling.num_nodes": 24}))
    d = only(diags, FIT)
    assert (
        "training.t asks for scaling.num_nodes = 3, but compute_pool.cpu allows at most max_nodes = 2"
        in d.detail
    )
    assert line_of(d) == 24 and related_line(d) == 2
    _, diags = run(cpu_pool(), train(scaling={"num_nodes": 2}))
    assert not diags


def test_gpus_on_a_cpu_family() -> None:
    _, diags = run(cpu_pool(line=3), train(scaling={"use_gpu": True}, lines={"scaling.use_gpu": 25}))
    d = only(diags, FIT)
    assert "asks for GPUs (scaling.use_gpu = true)" in d.detail and "CPU_X64_S, which has no GPUs" in d.detail
    assert line_of(d) == 25 and related_line(d) == 3
    _, diags = run(cpu_pool(), train(scaling={"num_gpus_per_worker": 1}, lines={"scaling": 21}))
    d = only(diags, FIT)
    assert "scaling.num_gpus_per_worker = 1" in d.detail and line_of(d) == 21
    _, diags = run(gpu_pool(), train("gpu", scaling={"use_gpu": True, "num_workers_per_node": 4}))
    assert not diags


def test_workers_times_cpus_over_family_vcpus() -> None:
    _, diags = run(
        cpu_pool(line=4),
        train(
            scaling={"num_workers_per_node": 2, "num_cpus_per_worker": 2},
            lines={"scaling.num_workers_per_node": 30},
        ),
    )
    d = only(diags, FIT)
    assert (
        "2 workers per node x 2 CPUs = 4 CPUs per node" in d.detail and "CPU_X64_S with 3 vCPUs" in d.detail
    )
    assert line_of(d) == 30 and related_line(d) == 4
    _, diags = run(cpu_pool(), train(scaling={"num_workers_per_node": 3, "num_cpus_per_worker": 1}))
    assert not diags
    _, diags = run(cpu_pool(), train(scaling={"num_workers_per_node": 2, "num_cpus_per_worker": 1.5}))
    assert not diags


def test_workers_times_gpus_over_family_gpus() -> None:
    _, diags = run(
        gpu_pool(line=5), train("gpu", scaling={"num_workers_per_node": 3, "num_gpus_per_worker": 2})
    )
    d = only(diags, FIT)
    assert "= 6 GPUs per node" in d.detail and "GPU_NV_M with 4 GPUs" in d.detail and related_line(d) == 5


def test_service_gpu_requests() -> None:
    svc = make(
        "service",
        "s",
        {"compute_pool": "cpu", "model": "m", "gpu_requests": 1},
        line=40,
        attr_lines={"gpu_requests": 42},
    )
    _, diags = run(cpu_pool(line=6), svc)
    d = only(diags, SFIT)
    assert "gpu_requests = 1" in d.detail and "which has no GPUs" in d.detail
    assert line_of(d) == 42 and related_line(d) == 6
    big = make("service", "s", {"compute_pool": "gpu", "model": "m", "gpu_requests": 8})
    _, diags = run(gpu_pool(), big)
    assert "GPU_NV_M with 4 GPUs per node" in only(diags, SFIT).detail
    ok = make("service", "s", {"compute_pool": "gpu", "model": "m", "gpu_requests": 4})
    models, diags = run(gpu_pool(), ok)
    assert not diags and models["service.s"].num_workers == 1


def test_service_num_workers_default() -> None:
    models, diags = run(
        cpu_pool(),
        make("service", "s", {"compute_pool": "cpu", "model": "m"}),
        make("service", "k", {"compute_pool": "cpu", "model": "m", "num_workers": 2}),
    )
    assert not diags
    assert models["service.s"].num_workers == 7  # 2 x 3 vCPUs + 1
    assert models["service.k"].num_workers == 2
    models, _ = run(make("service", "s", {"compute_pool": UNKNOWN, "model": "m"}))
    assert models["service.s"].num_workers is None


def eai(enabled: bool, line: int = 50) -> ResourceInstance:
    return make(
        "external_access_integration",
        "pypi",
        {"allowed_network_rules": ["pypi"], "enabled": enabled},
        line=line,
    )


RULE = make("network_rule", "pypi", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org"]})


def test_disabled_eai_used_by_training_and_service_build() -> None:
    t = train(external_access_integrations=[{"name": "pypi"}], lines={"external_access_integrations": 27})
    t.depends_on.add("external_access_integration.pypi")
    s = make(
        "service",
        "s",
        {"compute_pool": "cpu", "model": "m", "build_external_access_integration": "pypi"},
        attr_lines={"build_external_access_integration": 44},
    )
    _, diags = run(cpu_pool(), RULE, eai(False, line=50), t, s)
    errs = [d for d in diags if d.summary == "Disabled external access integration"]
    assert len(errs) == 2
    assert (
        "training.t uses external_access_integration.pypi" in errs[0].detail
        and "enabled = false" in errs[0].detail
    )
    assert line_of(errs[0]) == 27 and related_line(errs[0]) == 50
    assert (
        "service.s uses external_access_integration.pypi in build_external_access_integration"
        in errs[1].detail
    )
    assert line_of(errs[1]) == 44
    _, diags = run(cpu_pool(), RULE, eai(True), t, s)
    assert not diags


def test_reference_to_undeclared_block_by_name() -> None:
    _, diags = run(
        cpu_pool(),
        make("service", "s", {"compute_pool": "cpuu", "model": "m"}, attr_lines={"compute_pool": 3}),
    )
    d = only(diags, "Reference to undeclared resource")
    assert "no compute_pool with that name is declared" in d.detail and 'Did you mean "cpu"?' in d.detail
    assert line_of(d) == 3
    _, diags = run(
        make(
            "external_access_integration",
            "e",
            {"allowed_network_rules": ["pypi", "githb"]},
            attr_lines={"allowed_network_rules": 8},
        ),
        RULE,
        make("network_rule", "github", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["github.com"]}),
    )
    d = only(diags, "Reference to undeclared resource")
    assert '"githb"' in d.detail and 'Did you mean "github"?' in d.detail and line_of(d) == 8


def test_names_resolve_to_addresses() -> None:
    renamed = make("compute_pool", "main", {**POOL, "name": "shared_pool"})
    by_name = make("service", "a", {"compute_pool": "shared-pool", "model": "m"})
    by_label = make("service", "b", {"compute_pool": "main", "model": "m"})
    by_ref = make(
        "service",
        "c",
        {"compute_pool": {"name": "shared-pool", "state": UNKNOWN}, "model": "m"},
        deps={"compute_pool.main"},
    )
    models, diags = run(renamed, by_name, by_label, by_ref)
    assert not diags
    for addr in ("service.a", "service.b", "service.c"):
        assert models[addr].references == {"compute_pool": ("compute_pool.main",)}
        assert models[addr].compute_pool == "shared-pool"


def test_reference_prefers_the_dependency_among_same_named_blocks() -> None:
    a = make("compute_pool", "cpu", {**POOL, "name": "team-a-cpu"}, module='module.team["a"]')
    b = make("compute_pool", "cpu", {**POOL, "name": "team-b-cpu"}, module='module.team["b"]')
    s = make(
        "service",
        "s",
        {"compute_pool": {"name": "cpu"}, "model": "m"},
        module='module.team["b"]',
        deps={'module.team["b"].compute_pool.cpu'},
    )
    models, diags = run(a, b, s)
    assert not diags
    assert models['module.team["b"].service.s'].references["compute_pool"] == (
        'module.team["b"].compute_pool.cpu',
    )


def test_eai_only_takes_egress_rules() -> None:
    ingress = make(
        "network_rule", "office", {"mode": "INGRESS", "type": "IPV4", "value_list": ["10.0.0.0/8"]}, line=9
    )
    _, diags = run(
        ingress,
        make(
            "external_access_integration",
            "e",
            {"allowed_network_rules": ["office"]},
            attr_lines={"allowed_network_rules": 12},
        ),
    )
    d = only(diags, "Invalid network rule")
    assert "an INGRESS rule" in d.detail and line_of(d) == 12 and related_line(d) == 9


def test_effective_egress_is_filled_or_unknown() -> None:
    models, diags = run(
        RULE,
        make("network_rule", "gh", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["github.com:22"]}),
        make(
            "external_access_integration",
            "e",
            {"allowed_network_rules": [{"name": "pypi"}, {"name": "gh"}]},
            deps={"network_rule.pypi", "network_rule.gh"},
        ),
    )
    assert not diags
    assert models["external_access_integration.e"].effective_egress == ["pypi.org:443", "github.com:22"]
    models, diags = run(
        make("network_rule", "later", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": UNKNOWN}),
        make("external_access_integration", "e", {"allowed_network_rules": ["later"]}),
    )
    assert not diags and models["external_access_integration.e"].effective_egress is UNKNOWN


def test_duplicate_names_and_distinct_defaults_under_for_each() -> None:
    _, diags = run(
        make("compute_pool", "a", {**POOL, "name": "x"}, line=1),
        make("compute_pool", "b", {**POOL, "name": "x"}, line=8),
    )
    d = only(diags, "Duplicate resource name")
    assert 'compute_pool.a and compute_pool.b are both named "x"' in d.detail
    assert line_of(d) == 8 and related_line(d) == 1
    models, diags = run(
        make("compute_pool", "gpu", POOL, key="a10"), make("compute_pool", "gpu", POOL, key="t4")
    )
    assert not diags
    assert sorted(m.name for m in models.values()) == ["gpu-a10", "gpu-t4"]
    _, diags = run(
        make("compute_pool", "a", {**POOL, "name": "x"}),
        make("compute_pool", "b", {**POOL, "name": "x"}, provider="ray"),
    )
    assert not diags  # different providers, different systems


def test_cross_check_can_be_called_on_its_own() -> None:
    catalog = build_catalog([])
    insts = [cpu_pool(line=2), train(scaling={"num_nodes": 9})]
    models = {}
    for inst in insts:
        model, found = validate_instance(inst, catalog)
        assert not found and model is not None
        models[inst.address] = model
    diags = cross_check(insts, models, catalog)
    assert [d.summary for d in diags] == [FIT]


def test_service_size_is_bounded_by_its_pool() -> None:
    """100,000 workers or instances is a plan error (issue 15 item 9), not a fork bomb at apply."""
    huge = make(
        "service",
        "s",
        {"compute_pool": "cpu", "model": "m", "num_workers": 100_000, "max_instances": 100_000},
        line=40,
        attr_lines={"num_workers": 43, "max_instances": 44},
    )
    _, diags = run(cpu_pool(line=6), huge)
    errors = [d for d in diags if d.summary == SFIT]
    assert len(errors) == 2
    workers, instances = errors
    assert "num_workers = 100000" in workers.detail and "at most 13 workers" in workers.detail
    assert line_of(workers) == 43 and related_line(workers) == 6
    assert "max_instances = 100000" in instances.detail and "room for at most 6" in instances.detail
    assert line_of(instances) == 44
    edge = make("service", "s", {"compute_pool": "cpu", "model": "m", "num_workers": 13, "max_instances": 6})
    _, diags = run(cpu_pool(), edge)
    assert not diags


SUSP = "Compute pool is suspended"


def test_training_on_a_suspended_pool_without_auto_resume() -> None:
    pool = cpu_pool(line=2, suspended=True, auto_resume=False)
    pool.attribute_ranges.update(
        {"suspended": SourceRange.at("main.hcl", 5, 3), "auto_resume": SourceRange.at("main.hcl", 6, 3)}
    )
    _, diags = run(pool, train(lines={"compute_pool": 21}))
    d = only(diags, SUSP)
    assert "training.t runs on compute_pool.cpu, which is suspended (suspended = true)" in d.detail
    assert "auto_resume = false" in d.detail
    assert line_of(d) == 21 and [r.start.line for r in d.related] == [5, 6]
    # initially_suspended with suspended unset: the same
    _, diags = run(cpu_pool(initially_suspended=True, auto_resume=False), train())
    assert "(initially_suspended = true)" in only(diags, SUSP).detail


def test_suspended_pool_that_may_resume_or_is_resumed_is_fine() -> None:
    for attrs in (
        {"suspended": True},  # auto_resume defaults to true
        {"suspended": False, "auto_resume": False},
        {"initially_suspended": True, "suspended": False, "auto_resume": False},
    ):
        _, diags = run(cpu_pool(**attrs), train())
        assert not diags, attrs


def test_service_on_a_suspended_pool_without_auto_resume() -> None:
    svc = {"compute_pool": {"name": "cpu"}, "model": "models/m"}
    pool = cpu_pool(suspended=True, auto_resume=False)
    _, diags = run(pool, make("service", "s", svc, line=30, deps={"compute_pool.cpu"}))
    assert "service.s runs on compute_pool.cpu" in only(diags, SUSP).detail
    # a service that is itself suspended needs no running pool
    _, diags = run(pool, make("service", "s", {**svc, "suspended": True}, deps={"compute_pool.cpu"}))
    assert not [d for d in diags if d.summary == SUSP]
