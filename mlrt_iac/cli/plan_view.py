"""The human plan: a coloured diff like `terraform plan`, drift first, then a one-line summary."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape

from ..plan.json_view import REDACTED
from ..plan.model import Drift, Plan, ResourceChange
from ..values import UNKNOWN, Sensitive
from .console import Out

SYMBOL = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "replace": ("-/+", "red"),
    "delete": ("-", "red"),
    "no-op": (" ", "white"),
}
VERB = {
    "create": "will be created",
    "update": "will be updated in-place",
    "replace": "must be replaced",
    "delete": "will be destroyed",
}


def fmt_value(v: Any, sensitive: bool = False) -> str:
    if sensitive or isinstance(v, Sensitive):
        return REDACTED
    if v is UNKNOWN:
        return "(known after apply)"
    if isinstance(v, str):
        return json.dumps(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return _fmt_container(v)
    return str(v)


def _fmt_container(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {fmt_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    return "[" + ", ".join(fmt_value(x) for x in v) + "]"


def _map_diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    """A map that changed, key by key as Terraform shows it (unchanged keys counted, not shown)."""
    inner: list[str] = []
    same = 0
    for key in sorted(set(before) | set(after)):
        name = json.dumps(str(key))
        if key not in after:
            inner.append(f"          - {name} = {fmt_value(before[key])} -> null")
        elif key not in before:
            inner.append(f"          + {name} = {fmt_value(after[key])}")
        elif before[key] != after[key] or after[key] is UNKNOWN:
            inner.append(f"          ~ {name} = {fmt_value(before[key])} -> {fmt_value(after[key])}")
        else:
            same += 1
    if same:
        inner.append(f"            # ({same} unchanged element{'s' if same != 1 else ''} hidden)")
    return "{\n" + "\n".join(inner) + "\n        }"


def _sensitive_keys(ch: ResourceChange) -> set[str]:
    return {str(p[0]) for p in ch.sensitive_paths if p}


def render_change(ch: ResourceChange) -> list[str]:
    sym, color = SYMBOL[ch.action]
    lines = [
        f"  [bold]# {escape(ch.address)}[/] {VERB[ch.action]}"
        + (
            " [dim](create replacement, then destroy)[/]"
            if ch.action == "replace" and ch.create_before_destroy
            else ""
        )
    ]
    if ch.comment:
        lines.append(f"  [dim]# {escape(str(ch.comment))}[/]")
    lines.append(f'[{color}]{sym:>3}[/] resource "{ch.type}" "{escape(ch.name)}" {{')
    sens = _sensitive_keys(ch)
    before = ch.before or {}
    after = ch.after or {}
    rows: list[tuple[str, str, str, str]] = []  # (symbol, key, text, note)
    hidden = 0
    if ch.action == "create":
        for k in sorted(after):
            if after[k] is None or k == "id":
                continue
            rows.append(("+", k, fmt_value(after[k], k in sens), ""))
    elif ch.action == "delete":
        for k in sorted(before):
            if before[k] is None:
                continue
            rows.append(("-", k, fmt_value(before[k], k in sens) + " -> null", ""))
    else:
        for k in sorted(set(before) | set(after)):
            b, a = before.get(k), after.get(k)
            if k == "id":
                continue
            if b == a and a is not UNKNOWN:
                hidden += 1
                continue
            note = ""
            if k in ch.replace_paths:
                note = " [red]# forces replacement[/]"
                if k in ch.reasons:
                    note += f" [dim]({escape(ch.reasons[k])})[/]"
            elif k in ch.reasons:  # an in-place change the provider explains (a retrain)
                note = f" [dim]# {escape(ch.reasons[k])}[/]"
            if k not in before or b is None:
                rows.append(("+", k, fmt_value(a, k in sens), note))
            elif k not in after:
                rows.append(("-", k, fmt_value(b, k in sens) + " -> null", note))
            elif isinstance(b, dict) and isinstance(a, dict) and b and a and k not in sens:
                rows.append(("~", k, _map_diff(b, a), note))
            else:
                rows.append(("~", k, f"{fmt_value(b, k in sens)} -> {fmt_value(a, k in sens)}", note))
    width = max((len(r[1]) for r in rows), default=0)
    for s, k, text, note in rows:
        c = {"+": "green", "-": "red", "~": "yellow"}[s]
        lines.append(f"      [{c}]{s}[/] {k:<{width}} = {escape(text)}{note}")
    if hidden:
        lines.append(f"        [dim]# ({hidden} unchanged attribute{'s' if hidden != 1 else ''} hidden)[/]")
    lines.append("    }")
    return lines


def render_drift(d: Drift) -> list[str]:
    if d.after is None:
        return [f"  [bold]# {escape(d.address)}[/] has been deleted"]
    lines = [f"  [bold]# {escape(d.address)}[/] has changed"]
    for k in d.changed:
        lines.append(
            f"      [yellow]~[/] {k} = {escape(fmt_value(d.before.get(k)))} -> {escape(fmt_value(d.after.get(k)))}"
        )
    return lines


def print_plan(out: Out, plan: Plan) -> None:
    c = out.console
    if plan.drift:
        c.print()
        c.print("[bold]Note: Objects have changed outside of mlrt[/]")
        c.print()
        c.print('mlrt detected the following changes made outside of mlrt since the last "mlrt apply":')
        c.print()
        for d in plan.drift:
            for line in render_drift(d):
                c.print(line)
        c.print()
    if plan.refresh_only:
        if not plan.drift:
            c.print()
            c.print("[bold green]No changes.[/] Your infrastructure still matches the configuration.")
        else:
            c.print(
                "This is a refresh-only plan, so mlrt will not take any actions to undo these. "
                "Apply it to update the state to match."
            )
        return
    actionable = plan.actionable()
    refactor = bool(plan.moves or plan.forgets or plan.imports)
    if not actionable and not refactor and not any(o.action != "no-op" for o in plan.outputs):
        c.print()
        c.print("[bold green]No changes.[/] Your infrastructure matches the configuration.")
        c.print()
        c.print(
            "mlrt has compared your real infrastructure against your configuration and found no "
            "differences, so no changes are needed."
        )
        return
    if refactor:
        c.print()
        for old, new in plan.moves:
            c.print(f"  [bold]# {escape(old)}[/] has moved to [bold]{escape(new)}[/]")
        for entry in plan.imports:
            c.print(
                f"  [bold]# {escape(entry['address'])}[/] will be imported (id {escape(str(entry['id']))})"
            )
        for addr in plan.forgets:
            c.print(
                f"  [bold]# {escape(addr)}[/] will no longer be managed by mlrt: it is removed from"
                " the state, and the object itself is not destroyed (removed block, destroy = false)"
            )
    if actionable:
        c.print()
        c.print(
            "mlrt used the selected providers to generate the following execution plan. Resource actions "
            "are indicated with the following symbols:"
        )
        present = {ch.action for ch in actionable}
        for action in ("create", "update", "replace", "delete"):
            if action in present:
                sym, color = SYMBOL[action]
                label = {
                    "create": "create",
                    "update": "update in-place",
                    "delete": "destroy",
                    "replace": "destroy and then create replacement",
                }[action]
                c.print(f"  [{color}]{sym}[/] {label}")
        c.print()
        c.print("mlrt will perform the following actions:")
        for ch in actionable:
            c.print()
            for line in render_change(ch):
                c.print(line)
    counts = plan.counts()
    c.print()
    forget = f", {len(plan.forgets)} to forget" if plan.forgets else ""
    imported = f"{len(plan.imports)} to import, " if plan.imports else ""
    c.print(
        f"[bold]Plan:[/] {imported}{counts['add']} to add, {counts['change']} to change,"
        f" {counts['destroy']} to destroy{forget}."
    )
    outs = [o for o in plan.outputs if o.action != "no-op"]
    if outs:
        c.print()
        c.print("Changes to Outputs:")
        for o in outs:
            sym, color = SYMBOL[o.action]
            val = fmt_value(o.after, o.sensitive) if o.action != "delete" else "null"
            before = f"{fmt_value(o.before, o.sensitive)} -> " if o.action == "update" else ""
            c.print(f"  [{color}]{sym}[/] {o.name} = {escape(before + val)}")
