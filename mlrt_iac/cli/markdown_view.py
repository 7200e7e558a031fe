"""`plan -format markdown`: a summary fit for a pull-request comment."""

from __future__ import annotations

from ..plan.model import Plan
from .plan_view import fmt_value

ICON = {"create": "➕ create", "update": "🔄 update", "replace": "♻️ replace", "delete": "🗑️ destroy"}


def plan_markdown(plan: Plan) -> str:
    counts = plan.counts()
    lines = ["### mlrt plan", ""]
    if not plan.has_changes and not plan.drift:
        lines.append("**No changes.** Infrastructure matches the configuration.")
        return "\n".join(lines) + "\n"
    lines.append(
        f"**Plan:** {counts['add']} to add, {counts['change']} to change, {counts['destroy']} to destroy."
    )
    lines.append("")
    actionable = plan.actionable()
    if actionable:
        lines += ["| Action | Resource | Changed attributes |", "| --- | --- | --- |"]
        for ch in actionable:
            attrs = (
                ", ".join(
                    f"`{k}`" + (" (forces replacement)" if k in ch.replace_paths else "") for k in ch.changed
                )
                or "—"
            )
            if ch.action_reason == "replace_by_request":
                attrs = "replacement requested (-replace)"
            lines.append(f"| {ICON[ch.action]} | `{ch.address}` | {attrs} |")
        lines.append("")
    if plan.drift:
        lines += [
            f"<details><summary>Drift: objects changed outside of mlrt ({len(plan.drift)})</summary>",
            "",
            "| Resource | Change |",
            "| --- | --- |",
        ]
        for d in plan.drift:
            what = (
                "deleted"
                if d.after is None
                else ", ".join(
                    f"`{k}`: {fmt_value(d.before.get(k))} → {fmt_value(d.after.get(k))}" for k in d.changed
                )
            )
            lines.append(f"| `{d.address}` | {what} |")
        lines += ["", "</details>", ""]
    outs = [o for o in plan.outputs if o.action != "no-op"]
    if outs:
        lines += ["**Outputs:** " + ", ".join(f"`{o.name}` ({o.action})" for o in outs), ""]
    return "\n".join(lines) + "\n"
