"""Plan: configuration + refreshed state -> the changes that would make them match.

`make_plan` is a function of its inputs (project, state, options) that returns a `Plan` plus
diagnostics. The evaluation walk and the planning walk are one: as the config layer evaluates
each resource instance in dependency order, `_Planner.resolve` decides its action and returns its
*planned* value, which is what later expressions see (`(known after apply)` for computed values of
resources that will be created or replaced).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..addrs import Address, contains, matches_any
from ..config.checks import failed_checks
from ..config.conditions import failed_conditions
from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostics, redact
from ..errors import MlrtError
from ..model import computed_attributes, validate_instances
from ..provider import Related, object_name
from ..state import ResourceState, StateDocument
from ..values import UNKNOWN, is_known, sensitive_strings, unmark
from .checks import finding_diagnostics, plan_wide_checks
from .desired import desired_attributes
from .imports import plan_imports
from .model import Action, OutputChange, Plan, ResourceChange
from .moves import plan_refactoring, refactored, with_imports
from .project import Project, checks_after_walk, config_hash, validate_project
from .refresh import refresh_resources


@dataclass
class PlanOptions:
    targets: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    destroy: bool = False
    refresh: bool = True
    refresh_only: bool = False
    parallelism: int = 10
    # Refresh through handlers' `read_many` where they have it; False forces one `read` per
    # object; None follows MLRT_READ_MANY (see plan/refresh.py).
    batch_reads: bool | None = None


def make_plan(project: Project, state: StateDocument | None, opts: PlanOptions) -> tuple[Plan, Diagnostics]:
    """Refresh, then one walk that evaluates, validates and plans every instance in order.

    The diagnostics are redacted: no sensitive value of the configuration or the state appears
    in them, whichever check or provider wrote the message.
    """
    plan, diags = _make_plan(project, state, opts)
    if opts.targets and not diags.has_errors:
        diags.add_warning(
            "Resource targeting is in effect",
            "You are creating a plan with the -target option, which means that the result of this "
            "plan may not represent all of the changes requested by the current configuration. "
            "The -target option is not for routine use; it is for exceptional situations such as "
            "recovering from errors or mistakes.",
        )
    secrets = set(project.secrets)
    for r in state.resources if state is not None else ():
        if r.sensitive_attributes:
            sensitive_strings(r.marked_attributes(), found=secrets)
    return plan, redact(diags, secrets)


def _make_plan(project: Project, state: StateDocument | None, opts: PlanOptions) -> tuple[Plan, Diagnostics]:
    plan = Plan(
        changes=[],
        config_hash=config_hash(project.config),
        workspace=project.workspace,
        variables=dict(project.inputs),
        var_files=list(project.var_files),
        targets=list(opts.targets),
        destroy=opts.destroy,
        refresh_only=opts.refresh_only,
        state_lineage=state.lineage if state is not None and state.serial else None,
        state_serial=state.serial if state is not None else 0,
    )
    project.settings()  # provider configurations, before any provider is used
    diags = Diagnostics()
    ev = None
    if opts.destroy or opts.refresh_only:
        ev, _models, diags = validate_project(project)
        if diags.has_errors:
            return plan, diags

    if state is not None and not opts.destroy:
        ref = plan_refactoring(project.config, state.addresses(), diags)
        if diags.has_errors:
            return plan, diags
        if ref.moves or ref.forgets:
            state = refactored(state, ref)
            plan.moves = [list(m) for m in ref.moves]
            plan.forgets = list(ref.forgets)
    if not opts.destroy and project.config.root.imports:
        adopted = plan_imports(project, set(state.addresses()) if state is not None else set(), diags)
        if diags.has_errors:
            return plan, diags
        if adopted:
            state = with_imports(state, adopted)
            plan.imports = adopted
    state_resources = list(state.resources) if state is not None else []
    ctx = project.context()
    if opts.refresh and state_resources:
        observed, drift, rdiags = refresh_resources(
            state_resources, project.provider, ctx, opts.parallelism, opts.batch_reads
        )
        diags.extend(rdiags)
        plan.drift = drift
        plan.warnings.extend(d.to_json() for d in rdiags.warnings())
    else:
        observed = {r.address: dict(r.attributes) for r in state_resources}
    plan.refreshed = observed
    if diags.has_errors or opts.refresh_only:
        return plan, diags
    if opts.destroy:
        assert ev is not None
        plan.changes = _destroy_changes(
            state_resources, observed, {i.address: i for i in ev.instances}, opts, diags
        )
        return plan, diags

    planner = _Planner(project, {r.address: r for r in state_resources}, observed, opts, diags)
    ev2, ediags = project.evaluate(resolver=planner.resolve, targets=opts.targets or None)
    diags.extend(ediags)
    diags.extend(failed_conditions(ev2.instances))
    diags.extend(failed_checks(ev2.checks))
    diags.extend(checks_after_walk(project, ev2.instances, planner.models, ev2.providers.values()))
    if diags.has_errors:
        return plan, diags
    changes = list(planner.changes.values())
    instances = {i.address: i for i in ev2.instances}

    # Objects in state that the configuration no longer declares (with -target, the walk saw
    # only part of the configuration: only targeted addresses may be orphans).
    declared = set(instances) if not opts.targets else _declared_addresses(project)
    for r in state_resources:
        if r.address in declared or observed.get(r.address) is None:
            continue
        if opts.targets and not matches_any(r.address, opts.targets):
            continue
        changes.append(_delete_change(r, observed[r.address] or {}, "delete_because_no_resource_config"))
    diags.extend(plan_wide_checks(project, changes, instances))
    if diags.has_errors:
        return plan, diags
    _check_prevent_destroy(changes, instances, diags)
    _check_unused_replace(opts.replace, instances, diags)
    plan.changes = changes
    plan.outputs = _output_changes(ev2.outputs, state) if not opts.targets else []
    return plan, diags


def _declared_addresses(project: Project) -> set[str]:
    ev, _ = project.evaluate()
    return {i.address for i in ev.instances}


class _Planner:
    def __init__(
        self,
        project: Project,
        prior: Mapping[str, ResourceState],
        observed: Mapping[str, dict[str, Any] | None],
        opts: PlanOptions,
        diags: Diagnostics,
    ) -> None:
        self.project = project
        self.prior = prior
        self.observed = observed
        self.opts = opts
        self.diags = diags
        self.changes: dict[str, ResourceChange] = {}
        self.models: dict[str, Any] = {}

    def resolve(self, inst: ResourceInstance) -> Mapping[str, Any]:
        try:
            return self._plan_instance(inst)
        except MlrtError as exc:
            self.diags.add_error(exc.summary, exc.detail, inst.range)
            return dict(inst.attributes)

    def _plan_instance(self, inst: ResourceInstance) -> Mapping[str, Any]:
        models, vdiags = validate_instances([inst], self.project.provider_configs)
        self.diags.extend(vdiags)
        if vdiags.has_errors:
            return dict(inst.attributes)  # keep evaluating the rest: every problem in one run
        self.models[inst.address] = models[inst.address]
        provider = self.project.provider(inst.provider)
        handler = provider.handler(inst.type)
        if handler is None:
            raise MlrtError(
                f'Provider "{inst.provider}" does not support {inst.type}',
                f"Choose another provider for {inst.address} with the provider meta-argument.",
            )
        desired = desired_attributes(inst, models[inst.address])
        for d in handler.validate(desired):
            self.diags.append(
                d if d.range is not None else type(d)(d.severity, d.summary, d.detail, inst.range)
            )
        computed = computed_attributes(inst.type)
        _, sensitive_paths = unmark(inst.attributes)
        prior_res = self.prior.get(inst.address)
        ctx = self.project.context().for_resource(
            inst.address,
            self._related(inst),
            prior_res.private if prior_res is not None else None,
            sensitive_paths=sensitive_paths,
        )
        prior_attrs = self.observed.get(inst.address) if prior_res is not None else None
        action: Action
        reason = ""
        diff_changed: list[str] = []
        replace_paths: list[str] = []
        reasons: dict[str, str] = {}
        if prior_res is None or prior_attrs is None:
            action = "create"
        else:
            dr = handler.diff(ctx, prior_attrs, desired)
            ignore = set(inst.lifecycle.ignore_changes)
            if "*" in ignore or "all" in ignore:
                ignore = set(dr.changed)
            diff_changed = [k for k in dr.changed if k not in ignore]
            replace_paths = [k for k in dr.requires_replace if k not in ignore]
            reasons = {k: v for k, v in dr.reasons.items() if k in replace_paths or k in diff_changed}
            for k in ignore:
                if k in prior_attrs:
                    desired[k] = prior_attrs[k]
            status = prior_res.status
            if matches_any(inst.address, self.opts.replace):
                action, reason = "replace", "replace_by_request"
            elif status != "ready":
                action, reason = "replace", "tainted"
            elif self._triggered(inst):
                action, reason = "replace", "replace_by_triggers"
            elif replace_paths:
                action, reason = "replace", "replace_because_cannot_update"
            elif diff_changed:
                action = "update"
            else:
                action = "no-op"

        if action != "no-op":
            self.diags.extend(finding_diagnostics(handler, ctx, desired, inst))
        if action == "no-op":
            planned = dict(prior_attrs or {})
        elif action == "update":
            planned = {**(prior_attrs or {}), **desired}
            planned.update(handler.plan_computed(ctx, desired, prior_attrs))
        else:
            planned = dict(desired)
            for c in computed:
                planned.setdefault(c, UNKNOWN)
            planned.update(handler.plan_computed(ctx, desired, None))
        change = ResourceChange(
            address=inst.address,
            type=inst.type,
            name=inst.name,
            module_address=inst.module_address,
            index_key=inst.index_key,
            provider=inst.provider,
            action=action,
            before=dict(prior_attrs) if prior_attrs is not None else None,
            after=planned,
            id=prior_res.id if prior_res is not None else None,
            replace_paths=replace_paths,
            changed=diff_changed,
            reasons=reasons,
            action_reason=reason,
            create_before_destroy=inst.lifecycle.create_before_destroy,
            dependencies=sorted(inst.depends_on),
            prior_dependencies=list(prior_res.dependencies) if prior_res is not None else [],
            sensitive_paths=[list(p) for p in sensitive_paths],
            comment=None if ("comment",) in sensitive_paths else desired.get("comment"),
            timeouts=dict(inst.timeouts),
        )
        self.changes[inst.address] = change
        value = dict(planned)
        value.setdefault("id", change.id if change.id and action in ("no-op", "update") else UNKNOWN)
        return value

    def _related(self, inst: ResourceInstance) -> dict[str, Related]:
        out: dict[str, Related] = {}
        for addr in inst.depends_on:
            ch = self.changes.get(addr)
            if ch is not None and ch.after is not None:
                prior = self.prior.get(addr)
                private = prior.private if prior is not None and ch.action in ("no-op", "update") else {}
                out[addr] = Related(addr, ch.type, object_name(addr, ch.after), ch.after, private)
        return out

    def _triggered(self, inst: ResourceInstance) -> bool:
        for trig in inst.lifecycle.replace_triggered_by:
            target = Address.of_reference(trig)
            if target is None:
                continue
            for a, ch in self.changes.items():
                if ch.action in ("create", "replace", "update") and contains(str(target), a):
                    return True
        return False


def _check_unused_replace(
    replace: list[str], instances: Mapping[str, ResourceInstance], diags: Diagnostics
) -> None:
    """A -replace address that names no instance is a warning: a typo would otherwise plan no
    replacement and say nothing."""
    for addr in replace:
        if not any(matches_any(a, [addr]) for a in instances):
            diags.add_warning(
                "Unused -replace option",
                f'No resource instance in the configuration matches "{addr}", so nothing is replaced. '
                "Check the address with `mlrt state list`.",
            )


def _delete_change(r: ResourceState, attrs: dict[str, Any], reason: str) -> ResourceChange:
    return ResourceChange(
        address=r.address,
        type=r.type,
        name=r.name,
        module_address=r.module,
        index_key=r.index_key,
        provider=r.provider,
        action="delete",
        before=dict(attrs),
        after=None,
        id=r.id,
        action_reason=reason,
        prior_dependencies=list(r.dependencies),
        sensitive_paths=[list(p) for p in r.sensitive_attributes],  # what state recorded as secret
        comment=None if ["comment"] in r.sensitive_attributes else attrs.get("comment"),
    )


def _destroy_changes(
    state_resources: list[ResourceState],
    observed: Mapping[str, dict[str, Any] | None],
    instances: Mapping[str, ResourceInstance],
    opts: PlanOptions,
    diags: Diagnostics,
) -> list[ResourceChange]:
    selected = [r for r in state_resources if observed.get(r.address) is not None]
    if opts.targets:
        # A targeted destroy also destroys what depends on the targets.
        chosen = {r.address for r in selected if matches_any(r.address, opts.targets)}
        grew = True
        while grew:
            grew = False
            for r in selected:
                if r.address not in chosen and chosen & set(r.dependencies or []):
                    chosen.add(r.address)
                    grew = True
        selected = [r for r in selected if r.address in chosen]
    changes = [_delete_change(r, observed[r.address] or {}, "delete_because_destroy") for r in selected]
    _check_prevent_destroy(changes, instances, diags)
    return changes


def _check_prevent_destroy(
    changes: list[ResourceChange], instances: Mapping[str, ResourceInstance], diags: Diagnostics
) -> None:
    for ch in changes:
        if ch.action not in ("delete", "replace"):
            continue
        inst = instances.get(ch.address)
        if inst is not None and inst.lifecycle.prevent_destroy:
            diags.add_error(
                "Instance cannot be destroyed",
                f"Resource {ch.address} has lifecycle.prevent_destroy set, but the plan calls for "
                "this resource to be destroyed. To avoid this error and continue with the plan, "
                "either disable lifecycle.prevent_destroy or reduce the scope of the plan using "
                "the -target flag.",
                inst.range,
            )


def _output_changes(outputs: Mapping[str, Any], state: StateDocument | None) -> list[OutputChange]:
    prior = state.output_values() if state is not None else {}
    out: list[OutputChange] = []
    for name, ov in sorted(outputs.items()):
        after = ov.value
        before = prior.get(name, {}).get("value") if name in prior else None
        plain_after, _ = unmark(after)
        action: Action
        if name not in prior:
            action = "create"
        elif not is_known(plain_after) or plain_after != before:
            action = "update"
        else:
            action = "no-op"
        out.append(OutputChange(name, action, before, plain_after, ov.sensitive))
    for name in sorted(set(prior) - set(outputs)):
        out.append(
            OutputChange(name, "delete", prior[name].get("value"), None, bool(prior[name].get("sensitive")))
        )
    return out
