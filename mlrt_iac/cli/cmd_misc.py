"""show, output, graph, render.

init, validate and fmt have modules of their own, so each imports only what it needs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape

from ..errors import DiagnosticsError, MlrtError
from ..graph import build_graph, to_dot
from ..plan.json_view import REDACTED, plan_json, state_json
from ..plan.model import Plan
from ..plan.project import validate_project
from ..provider import Renderer, RenderItem
from ..state import ResourceState
from .console import Out
from .plan_view import fmt_value
from .session import backend_for, open_project_for, read_state, resolve_file


def cmd_show(args: argparse.Namespace, out: Out) -> int:
    if args.file:
        try:
            plan = Plan.from_file_json(resolve_file(args, args.file).read_text())
        except (OSError, ValueError) as exc:
            raise MlrtError(f"Failed to read plan {args.file}", str(exc)) from None
        if out.json_mode:
            out.json(plan_json(plan))
        else:
            from .plan_view import print_plan

            print_plan(out, plan)
        return 0
    project = open_project_for(args)
    doc = read_state(backend_for(project))
    if out.json_mode:
        out.json(state_json(doc))
        return 0
    if not doc.resources:
        out.print("The state file is empty. No resources are represented.")
        return 0
    for r in doc.resources:
        _print_resource(out, r)
    return 0


def _print_resource(out: Out, r: ResourceState) -> None:
    sens = {str(p[0]) for p in r.sensitive_attributes if p}
    out.print(f"[bold]# {escape(r.address)}:[/]")
    if r.comment and "comment" not in sens:  # a state written before comments were redacted
        out.print(f"[dim]# {escape(r.comment)}[/]")
    out.print(f'resource "{r.type}" "{escape(r.name)}" {{')
    attrs = {"id": r.id, **r.attributes}
    width = max((len(k) for k in attrs), default=0)
    for k in sorted(attrs):
        if attrs[k] is None:
            continue
        out.print(f"    {k:<{width}} = {escape(fmt_value(attrs[k], k in sens))}")
    out.print("}")
    out.print()


def cmd_output(args: argparse.Namespace, out: Out) -> int:
    project = open_project_for(args)
    doc = read_state(backend_for(project))
    outputs = doc.output_values()
    if args.name:
        if args.name not in outputs:
            raise MlrtError(
                f'Output "{args.name}" not found',
                "The output is not declared, or the configuration has not been applied yet. "
                f"Declared outputs in the state: {', '.join(sorted(outputs)) or 'none'}.",
            )
        o = outputs[args.name]
        if out.json_mode:
            out.json(o["value"])
        elif args.raw:
            v = o["value"]
            out.raw(v if isinstance(v, str) else json.dumps(v))
        else:
            out.print(REDACTED if o.get("sensitive") else fmt_value(o["value"]), markup=False)
        return 0
    if out.json_mode:
        out.json(
            {k: {"value": v["value"], "sensitive": bool(v.get("sensitive"))} for k, v in outputs.items()}
        )
        return 0
    for k in sorted(outputs):
        o = outputs[k]
        out.print(f"{k} = {REDACTED if o.get('sensitive') else fmt_value(o['value'])}", markup=False)
    return 0


def cmd_graph(args: argparse.Namespace, out: Out) -> int:
    project = open_project_for(args)
    actions: dict[str, str] | None = None
    if args.type == "plan":
        from ..plan.planner import PlanOptions, make_plan

        doc = read_state(backend_for(project))
        plan, diags = make_plan(project, doc, PlanOptions())
        if diags.has_errors:
            raise DiagnosticsError(diags)
        actions = {c.address: c.action for c in plan.changes}
    ev, diags = project.evaluate()
    if diags.has_errors:
        raise DiagnosticsError(diags)
    g = build_graph([i.address for i in ev.instances], {i.address: i.depends_on for i in ev.instances})
    out.raw(to_dot(g, actions))
    return 0


def cmd_render(args: argparse.Namespace, out: Out) -> int:
    project = open_project_for(args)
    ev, models, diags = validate_project(project)
    if diags.has_errors:
        raise DiagnosticsError(diags, project.config.sources)
    from ..model import computed_attributes
    from ..plan.desired import desired_attributes
    from ..values import unmark

    chosen = [i for i in ev.instances if i.provider.split(".")[0] == args.provider]
    if not chosen:
        # Nothing uses that provider: show what the whole configuration would look like on it
        # (how a team previews moving a local project to Kubernetes).
        chosen = list(ev.instances)
        if chosen:
            out.err.print(
                f"[yellow]Note:[/] no resource uses the {escape(args.provider)} provider; rendering "
                f"every resource as if it did."
            )
    by_provider: dict[str, list[RenderItem]] = {}
    for inst in chosen:
        key = inst.provider if inst.provider.split(".")[0] == args.provider else args.provider
        attrs = desired_attributes(inst, models[inst.address])
        for c in computed_attributes(inst.type):
            attrs.pop(c, None)
        if inst.timeouts:
            attrs["timeouts"] = dict(inst.timeouts)
        _, sensitive = unmark(inst.attributes)
        marked = tuple(tuple(p) for p in sensitive)
        by_provider.setdefault(key, []).append(RenderItem(inst.address, inst.type, attrs, marked))
    manifests: list[dict[str, Any]] = []
    warnings: list[str] = []
    renderers: list[Renderer] = []
    for key, items in sorted(by_provider.items()):
        provider = project.provider(key)
        if not isinstance(provider, Renderer):
            raise MlrtError(
                f'Provider "{provider.name}" cannot render manifests',
                "Only providers that apply declarative manifests (kubernetes) support `mlrt render`.",
            )
        rendered = provider.render(items)
        manifests.extend(rendered.manifests)
        warnings.extend(rendered.warnings)
        renderers.append(provider)
    for w in warnings:
        out.err.print(f"[bold yellow]Warning:[/] {escape(w)}")
    if args.out:
        if not renderers:
            raise MlrtError("Nothing to render", f"No resource uses the {args.provider} provider.")
        paths = renderers[0].write_render(manifests, resolve_file(args, args.out))
        if not out.json_mode:
            for p in paths:
                out.print(str(p), markup=False)
        return 0
    import yaml

    if out.json_mode:
        out.json(manifests)
    else:

        class _NoAliases(yaml.SafeDumper):
            """Manifests spell every value out: no `&id001` anchors where a renderer reused a dict."""

            def ignore_aliases(self, data: Any) -> bool:
                return True

        out.raw(yaml.dump_all(manifests, Dumper=_NoAliases, sort_keys=True))
    return 0
