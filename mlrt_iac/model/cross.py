"""Checks between blocks, before anything runs (a Terraform-style plan error names both blocks).

- references by plain name to a pool / integration / rule / repository that no block declares;
- a training or service that cannot fit its pool: more nodes than max_nodes, GPUs on a CPU
  family, workers x CPUs (or GPUs) per node over the family's, gpu_requests over its GPUs;
- a disabled external access integration used by a training or a service build;
- a training or (running) service on a pool that the configuration keeps suspended
  (`suspended = true`, or `initially_suspended = true` with `suspended` unset) while the pool
  has `auto_resume = false`: nothing would resume it, so the work could never run;
- an integration allowing an INGRESS rule; two blocks of one type and provider with one name.
- a service whose model is a training's model_uri and whose functions that framework's model
  does not offer (xgboost/lightgbm: predict, predict_proba), or a pytorch training's model
  served without model_class (a state dict needs its class; a custom class may offer any method).

Each error's range is the training's/service's (the attribute when recorded) and `related`
holds the other block's range. As a side effect `cross_check` records on every model the
addresses its reference fields resolve to (`model.references`) and fills what can be derived
at plan time: a service's default `num_workers` and `max_queue`, and an integration's
`effective_egress`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostics, SourceRange
from ..values import UNKNOWN
from .derive import fill_service_defaults
from .errors_map import attr_range
from .families import FamilyCatalog, InstanceFamily
from .names import default_name, normalize_name
from .netrules import effective_egress
from .schemas import (
    RESOURCE_MODELS,
    ComputePool,
    ExternalAccessIntegration,
    NetworkRule,
    ResourceModel,
    Service,
    Training,
)
from .suggest import did_you_mean


def instance_name(inst: ResourceInstance) -> str | None:
    """The provider-object name of an instance, even when its block failed validation."""
    raw = inst.attributes.get("name")
    if raw is None:
        return default_name(inst.name, inst.index_key)
    raw = getattr(raw, "value", raw)  # Sensitive
    return normalize_name(raw) if isinstance(raw, str) else None


@dataclass
class _Index:
    insts: dict[str, ResourceInstance] = field(default_factory=dict)
    by_name: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    names_of: dict[str, list[str]] = field(default_factory=dict)  # type -> names (for suggestions)

    @classmethod
    def build(cls, instances: Iterable[ResourceInstance]) -> _Index:
        idx = cls()
        for inst in instances:
            idx.insts[inst.address] = inst
            keys = {normalize_name(inst.name)}
            name = instance_name(inst)
            if name is not None:
                keys.add(name)
                idx.names_of.setdefault(inst.type, []).append(name)
            for key in keys:
                idx.by_name.setdefault((inst.type, key), []).append(inst.address)
        return idx

    def resolve(
        self, inst: ResourceInstance, target: str, name: str, via_ref: bool, single: bool
    ) -> str | None:
        cands = self.by_name.get((target, name), [])
        if len(cands) == 1:
            return cands[0]
        if cands:
            for pick in (
                [c for c in cands if c in inst.depends_on],
                [c for c in cands if self.insts[c].module_address == inst.module_address],
            ):
                if pick:
                    return pick[0]
            return cands[0]
        if via_ref and single:
            deps = [d for d in inst.depends_on if d in self.insts and self.insts[d].type == target]
            if len(deps) == 1:
                return deps[0]
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _resolve_all(idx: _Index, models: Mapping[str, ResourceModel], diags: Diagnostics) -> None:
    for addr, model in models.items():
        inst = idx.insts.get(addr)
        if inst is None:
            continue
        resolved_fields: dict[str, tuple[str, ...]] = {}
        for fld, refs in model._ref_names.items():
            target = model.REF_FIELDS[fld]
            if target not in RESOURCE_MODELS:
                continue  # e.g. secrets: not declared as blocks
            single = fld not in model.LIST_REFS
            resolved: list[str] = []
            renames: dict[str, str] = {}
            for name, via_ref in refs:
                hit = idx.resolve(inst, target, name, via_ref, single)
                if hit is not None:
                    resolved.append(hit)
                    real = instance_name(idx.insts[hit])
                    if real is not None and real != name:
                        renames[name] = real  # written as the label: store the object's name
                elif not via_ref:  # a broken expression reference is the config layer's error
                    diags.add_error(
                        "Reference to undeclared resource",
                        f'{fld} names "{name}", but no {target} with that name is declared in this '
                        f"configuration.{did_you_mean(name, idx.names_of.get(target, []))} "
                        f"Declare it, or refer to one with {target}.NAME.",
                        attr_range(inst, (fld,)),
                    )
            resolved_fields[fld] = tuple(resolved)
            if renames:
                value = getattr(model, fld)
                if isinstance(value, str):
                    model.__dict__[fld] = renames.get(value, value)
                elif isinstance(value, list):
                    model.__dict__[fld] = [renames.get(v, v) if isinstance(v, str) else v for v in value]
        model._references = resolved_fields


def _family(pool: ComputePool, catalog: FamilyCatalog) -> InstanceFamily | None:
    return catalog.get(pool.instance_family) if isinstance(pool.instance_family, str) else None


def _pool_of(model: ResourceModel, models: Mapping[str, ResourceModel]) -> tuple[str, ComputePool] | None:
    addrs = model.references.get("compute_pool", ())
    if not addrs:
        return None
    pool = models.get(addrs[0])
    return (addrs[0], pool) if isinstance(pool, ComputePool) else None


def _pool_stays_suspended(pool: ComputePool) -> bool:
    """Whether the configuration keeps `pool` suspended and nothing may resume it."""
    if pool.auto_resume is not False:
        return False
    if pool.suspended is None:
        return pool.initially_suspended is True
    return pool.suspended is True


def _check_suspended_pool(
    inst: ResourceInstance, pool_addr: str, pool: ComputePool, idx: _Index, diags: Diagnostics
) -> None:
    if not _pool_stays_suspended(pool):
        return
    pool_inst = idx.insts[pool_addr]
    which = "suspended" if pool.suspended is True else "initially_suspended"
    diags.add_error(
        "Compute pool is suspended",
        f"{inst.address} runs on {pool_addr}, which is suspended ({which} = true) and has "
        "auto_resume = false, so nothing would resume it. Set suspended = false on the pool, "
        "or auto_resume = true to let work resume it.",
        attr_range(inst, ("compute_pool",)),
        (attr_range(pool_inst, (which,)), attr_range(pool_inst, ("auto_resume",))),
    )


def _check_training(
    inst: ResourceInstance,
    m: Training,
    models: Mapping[str, ResourceModel],
    idx: _Index,
    catalog: FamilyCatalog,
    diags: Diagnostics,
) -> None:
    found = _pool_of(m, models)
    if found is not None:
        _check_suspended_pool(inst, found[0], found[1], idx, diags)
    if found is None or m.scaling is UNKNOWN:
        return
    pool_addr, pool = found
    related = (idx.insts[pool_addr].range,)
    summary = "Training does not fit its compute pool"
    sc = m.scaling
    if sc.num_nodes is not UNKNOWN and pool.max_nodes is not UNKNOWN and sc.num_nodes > pool.max_nodes:
        diags.add_error(
            summary,
            f"{inst.address} asks for scaling.num_nodes = {sc.num_nodes}, but {pool_addr} allows "
            f"at most max_nodes = {pool.max_nodes}. Lower num_nodes or raise the pool's max_nodes.",
            attr_range(inst, ("scaling", "num_nodes")),
            related,
        )
    fam = _family(pool, catalog)
    if fam is None or UNKNOWN in (
        sc.num_workers_per_node,
        sc.num_cpus_per_worker,
        sc.num_gpus_per_worker,
        sc.use_gpu,
    ):
        return
    gpus = sc.gpus_per_worker
    if gpus > 0 and not fam.has_gpu:
        what = (
            f"scaling.num_gpus_per_worker = {_num(sc.num_gpus_per_worker)}"
            if sc.num_gpus_per_worker
            else "scaling.use_gpu = true"
        )
        path = ("scaling", "num_gpus_per_worker") if sc.num_gpus_per_worker else ("scaling", "use_gpu")
        diags.add_error(
            summary,
            f"{inst.address} asks for GPUs ({what}), but {pool_addr} uses instance family "
            f"{fam.name}, which has no GPUs. Use a GPU family (GPU_NV_XS/S/M/L) for the pool "
            "or remove the GPU request.",
            attr_range(inst, path),
            related,
        )
    elif gpus > 0 and sc.num_workers_per_node * gpus > fam.gpus:
        diags.add_error(
            summary,
            f"{inst.address} asks for {sc.num_workers_per_node} workers per node x {_num(gpus)} "
            f"GPUs = {_num(sc.num_workers_per_node * gpus)} GPUs per node, but {pool_addr} uses "
            f"{fam.name} with {fam.gpus} GPUs per node. Lower num_workers_per_node or "
            "num_gpus_per_worker, or pick a larger family.",
            attr_range(inst, ("scaling", "num_workers_per_node")),
            related,
        )
    cpus = sc.num_workers_per_node * sc.num_cpus_per_worker
    if cpus > fam.cpus:
        diags.add_error(
            summary,
            f"{inst.address} asks for {sc.num_workers_per_node} workers per node x "
            f"{_num(sc.num_cpus_per_worker)} CPUs = {_num(cpus)} CPUs per node, but {pool_addr} "
            f"uses {fam.name} with {_num(fam.cpus)} vCPUs per node. Lower num_workers_per_node "
            "or num_cpus_per_worker, or pick a larger family.",
            attr_range(inst, ("scaling", "num_workers_per_node")),
            related,
        )


def _check_service(
    inst: ResourceInstance,
    m: Service,
    models: Mapping[str, ResourceModel],
    idx: _Index,
    catalog: FamilyCatalog,
    diags: Diagnostics,
) -> None:
    found = _pool_of(m, models)
    if found is None:
        return
    pool_addr, pool = found
    if m.suspended is not True:
        _check_suspended_pool(inst, pool_addr, pool, idx, diags)
    fam = _family(pool, catalog)
    if fam is None:
        return
    related = (idx.insts[pool_addr].range,)
    req = m.gpu_requests
    if req is not UNKNOWN and req > 0:
        if not fam.has_gpu:
            diags.add_error(
                "Service does not fit its compute pool",
                f"{inst.address} asks for gpu_requests = {req}, but {pool_addr} uses instance "
                f"family {fam.name}, which has no GPUs. Use a GPU family (GPU_NV_XS/S/M/L) for "
                "the pool or set gpu_requests = 0.",
                attr_range(inst, ("gpu_requests",)),
                related,
            )
        elif req > fam.gpus:
            diags.add_error(
                "Service does not fit its compute pool",
                f"{inst.address} asks for gpu_requests = {req}, but {pool_addr} uses {fam.name} "
                f"with {fam.gpus} GPUs per node. Lower gpu_requests or pick a larger family.",
                attr_range(inst, ("gpu_requests",)),
                related,
            )
    _check_service_size(inst, m, pool_addr, pool, fam, related, diags)
    fill_service_defaults(m, fam.cpus)


# What a framework model offers when the service names no model_class (the inference server's
# KNOWN_FUNCTIONS; predict_proba only for classifiers, which is known once the model is).
FRAMEWORK_FUNCTIONS = ("predict", "predict_proba")


def _within(inner: SourceRange, outer: SourceRange) -> bool:
    if inner.filename != outer.filename:
        return False
    start = (inner.start.line, inner.start.column)
    return (outer.start.line, outer.start.column) <= start and (
        outer.end.line == outer.start.line
        and outer.end.column == outer.start.column
        or start <= (outer.end.line, outer.end.column)
    )


def _model_training(
    inst: ResourceInstance, models: Mapping[str, ResourceModel]
) -> tuple[str, Training] | None:
    """The training whose model_uri the service's `model` refers to, if it does."""
    model_range = inst.attribute_ranges.get("model")
    found = []
    for dep in sorted(inst.depends_on):
        m = models.get(dep)
        if not isinstance(m, Training):
            continue
        where = inst.dependency_ranges.get(dep)
        if model_range is not None and where is not None and not _within(where, model_range):
            continue  # referenced elsewhere (depends_on, a comment) rather than as the model
        found.append((dep, m))
    return found[0] if len(found) == 1 else None


def _check_service_model(
    inst: ResourceInstance, m: Service, models: Mapping[str, ResourceModel], idx: _Index, diags: Diagnostics
) -> None:
    hit = _model_training(inst, models)
    if hit is None:
        return
    train_addr, training = hit
    fw = training.framework
    if fw is UNKNOWN or not isinstance(fw, str):
        return
    related = (idx.insts[train_addr].range,)
    if m.model_class is None and fw == "pytorch":
        diags.add_error(
            "Missing required argument",
            f"{inst.address} serves the model of {train_addr}, a pytorch training, but has no "
            "model_class. A PyTorch model saved as torch.save(model.state_dict(), ...) is rebuilt "
            'from its class: set model_class = "module:Class" (the torch.nn.Module subclass in the '
            "project, a loader function module:fn(model_dir), or a custom class whose methods are "
            "the functions).",
            inst.range,
            related,
        )
        return
    if m.model_class is not None or not isinstance(m.functions, list):
        return  # a class in the project may offer any method: checked when the server starts
    for i, fn in enumerate(m.functions):
        if isinstance(fn, str) and fn not in FRAMEWORK_FUNCTIONS:
            diags.add_error(
                "Unknown function",
                f'{inst.address} lists function "{fn}", but the model of {train_addr} ({fw}) '
                f"offers only {', '.join(FRAMEWORK_FUNCTIONS)}.{did_you_mean(fn, FRAMEWORK_FUNCTIONS)}"
                " Other methods need model_class naming a class in the project that has them.",
                attr_range(inst, ("functions", i)),
                related,
            )


def max_workers_per_instance(family_cpus: float) -> int:
    """Workers one instance may run: 4 per vCPU of its node, plus one (the default is 2 per vCPU
    plus one). Beyond that workers only add model copies in memory and context switches."""
    return int(4 * max(family_cpus, 1.0)) + 1


def _check_service_size(
    inst: ResourceInstance,
    m: Service,
    pool_addr: str,
    pool: ComputePool,
    fam: InstanceFamily,
    related: tuple[SourceRange, ...],
    diags: Diagnostics,
) -> None:
    """Bound max_instances and num_workers by the pool's capacity, so a typo (100000) is a plan
    error instead of an apply that forks that many model-loading processes."""
    summary = "Service does not fit its compute pool"
    workers_cap = max_workers_per_instance(fam.cpus)
    if isinstance(m.num_workers, int) and m.num_workers > workers_cap:
        diags.add_error(
            summary,
            f"{inst.address} asks for num_workers = {m.num_workers}, but an instance runs on one node of "
            f"{pool_addr} ({fam.name}, {_num(fam.cpus)} vCPUs), which takes at most {workers_cap} workers "
            "(4 per vCPU, plus one). Lower num_workers or pick a larger family.",
            attr_range(inst, ("num_workers",)),
            related,
        )
    if m.max_instances is UNKNOWN or pool.max_nodes is UNKNOWN:
        return
    slots = int(pool.max_nodes * max(fam.cpus, 1.0))  # each instance needs a vCPU of its own
    if fam.has_gpu and isinstance(m.gpu_requests, int) and 0 < m.gpu_requests <= fam.gpus:
        slots = min(slots, pool.max_nodes * (fam.gpus // m.gpu_requests))
    if m.max_instances > slots:
        diags.add_error(
            summary,
            f"{inst.address} asks for max_instances = {m.max_instances}, but {pool_addr} has room for at "
            f"most {slots} (max_nodes = {pool.max_nodes} nodes of {fam.name}, one vCPU"
            f"{' and gpu_requests GPUs' if fam.has_gpu and m.gpu_requests else ''} per instance). "
            "Lower max_instances or raise the pool's max_nodes.",
            attr_range(inst, ("max_instances",)),
            related,
        )


def _check_eai_use(
    inst: ResourceInstance,
    m: ResourceModel,
    fld: str,
    models: Mapping[str, ResourceModel],
    idx: _Index,
    diags: Diagnostics,
) -> None:
    for addr in m.references.get(fld, ()):
        eai = models.get(addr)
        if isinstance(eai, ExternalAccessIntegration) and eai.enabled is False:
            diags.add_error(
                "Disabled external access integration",
                f"{inst.address} uses {addr} in {fld}, but that integration has "
                "enabled = false. Set enabled = true on it, or stop using it here.",
                attr_range(inst, (fld,)),
                (idx.insts[addr].range,),
            )


def _check_eai(
    inst: ResourceInstance,
    m: ExternalAccessIntegration,
    models: Mapping[str, ResourceModel],
    idx: _Index,
    diags: Diagnostics,
) -> None:
    rules: list[NetworkRule] = []
    complete = isinstance(m.allowed_network_rules, list) and UNKNOWN not in m.allowed_network_rules
    addrs = m.references.get("allowed_network_rules", ())
    for addr in addrs:
        rule = models.get(addr)
        if not isinstance(rule, NetworkRule):
            complete = False
            continue
        if rule.mode == "INGRESS":
            diags.add_error(
                "Invalid network rule",
                f"{inst.address} allows {addr}, an INGRESS rule; an external access "
                "integration only takes EGRESS rules.",
                attr_range(inst, ("allowed_network_rules",)),
                (idx.insts[addr].range,),
            )
        if rule.mode is UNKNOWN or rule.type is UNKNOWN or not isinstance(rule.value_list, list):
            complete = False
        rules.append(rule)
    if complete and len(addrs) == len(m.allowed_network_rules):
        m.__dict__["effective_egress"] = effective_egress(rules)
    elif m.effective_egress is None:
        m.__dict__["effective_egress"] = UNKNOWN


def _check_duplicate_names(models: Mapping[str, ResourceModel], idx: _Index, diags: Diagnostics) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for addr, m in models.items():
        inst = idx.insts.get(addr)
        if inst is None or not isinstance(m.name, str):
            continue
        key = (inst.type, inst.provider, m.name)
        first = seen.setdefault(key, addr)
        if first != addr:
            diags.add_error(
                "Duplicate resource name",
                f'{first} and {addr} are both named "{m.name}"; names must be unique per type '
                f'and provider. Set a distinct name = "..." (under count or for_each, include '
                "count.index or each.key).",
                inst.range,
                (idx.insts[first].range,),
            )


def cross_check(
    instances: Iterable[ResourceInstance], models: Mapping[str, ResourceModel], catalog: FamilyCatalog
) -> Diagnostics:
    """Every cross-block problem among validated models; see the module docstring."""
    idx = _Index.build(instances)
    diags = Diagnostics()
    _resolve_all(idx, models, diags)
    _check_duplicate_names(models, idx, diags)
    for addr, m in models.items():
        inst = idx.insts.get(addr)
        if inst is None:
            continue
        if isinstance(m, Training):
            _check_training(inst, m, models, idx, catalog, diags)
            _check_eai_use(inst, m, "external_access_integrations", models, idx, diags)
        elif isinstance(m, Service):
            _check_service(inst, m, models, idx, catalog, diags)
            _check_service_model(inst, m, models, idx, diags)
            _check_eai_use(inst, m, "build_external_access_integration", models, idx, diags)
        elif isinstance(m, ExternalAccessIntegration):
            _check_eai(inst, m, models, idx, diags)
    return diags
