"""plan, apply, destroy."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
import time
from typing import Any

from rich.markup import escape

from ..apply.engine import ApplyOptions, ApplyResult, apply_plan
from ..apply.events import ApplyEvent, StopSignal
from ..errors import DiagnosticsError, MlrtError
from ..plan.json_view import plan_json
from ..plan.model import Plan
from ..plan.planner import PlanOptions, make_plan
from ..plan.project import Project, config_hash
from ..state import Backend, StateDocument
from .console import Out
from .diagnostics_view import print_diagnostics
from .markdown_view import plan_markdown
from .plan_view import print_plan
from .progress import ProgressFilter
from .session import backend_for, locked, open_project_for, read_state, resolve_file

ING = {"create": "Creating", "update": "Modifying", "delete": "Destroying", "replace": "Replacing"}
DONE = {
    "create": "Creation complete",
    "update": "Modifications complete",
    "delete": "Destruction complete",
    "replace": "Replacement complete",
}
STILL = {
    "create": "Still creating...",
    "update": "Still modifying...",
    "delete": "Still destroying...",
    "replace": "Still replacing...",
}


def _options(args: argparse.Namespace, destroy: bool = False) -> PlanOptions:
    return PlanOptions(
        targets=list(args.targets),
        replace=list(args.replace),
        destroy=destroy or args.destroy,
        refresh=args.refresh,
        refresh_only=args.refresh_only,
        parallelism=max(1, args.parallelism),
    )


def _make_plan(project: Project, doc: StateDocument, opts: PlanOptions, out: Out) -> Plan:
    plan, diags = make_plan(project, doc, opts)
    if diags.has_errors:
        raise DiagnosticsError(diags, project.config.sources)
    if diags and not out.json_mode:
        print_diagnostics(out, diags.warnings(), project.config.sources, project.project_dir)
    return plan


def cmd_plan(args: argparse.Namespace, out: Out) -> int:
    project = open_project_for(args)
    backend = backend_for(project)
    with locked(backend, "plan", args):
        doc = read_state(backend)
        plan = _make_plan(project, doc, _options(args), out)
    if args.out:
        from ..plan.planfile import write_plan_file

        write_plan_file(resolve_file(args, args.out), plan.to_file_json())
    if out.json_mode:
        out.json(plan_json(plan))
    elif args.format == "markdown":
        out.raw(plan_markdown(plan))
    else:
        print_plan(out, plan)
        if args.out:
            out.print()
            out.print(f"Saved the plan to: {args.out}")
            out.print()
            out.print(
                f'To perform exactly these actions, run the following command to apply:\n    mlrt apply "{args.out}"'
            )
    project.close()
    if args.detailed_exitcode:
        return 2 if plan.has_changes else 0
    return 0


def _confirm(out: Out, args: argparse.Namespace, what: str) -> bool:
    if args.auto_approve:
        return True
    if not args.input or not sys.stdin.isatty() and sys.stdin.closed:
        raise MlrtError(
            "No confirmation given", "Run with -auto-approve to apply without asking (e.g. in CI)."
        )
    out.print()
    out.print(f"[bold]Do you want to {what}?[/]")
    out.print("  mlrt will perform the actions described above.\n  Only 'yes' will be accepted to approve.")
    out.print()
    try:
        answer = input("  Enter a value: ")
    except EOFError:
        answer = ""
    return answer.strip() == "yes"


def _load_saved_plan(args: argparse.Namespace) -> Plan:
    path = resolve_file(args, args.plan_file)
    try:
        return Plan.from_file_json(path.read_text())
    except FileNotFoundError:
        raise MlrtError(f"Saved plan file not found: {args.plan_file}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise MlrtError(
            f"Failed to read the saved plan {args.plan_file}",
            f"{exc}. Create it again with `mlrt plan -out FILE`.",
        ) from None


def cmd_apply(args: argparse.Namespace, out: Out, destroy: bool = False) -> int:
    saved = _load_saved_plan(args) if getattr(args, "plan_file", None) else None
    project = open_project_for(args, inputs=saved.variables if saved else None)
    backend = backend_for(project)
    with locked(backend, "destroy" if destroy else "apply", args):
        doc = read_state(backend)
        if saved is not None:
            _check_saved(saved, project, doc)
            plan = saved
        else:
            plan = _make_plan(project, doc, _options(args, destroy), out)
            if not out.json_mode:
                print_plan(out, plan)
            if not plan.has_changes and not plan.refresh_only:
                project.close()
                return 0
            if not _confirm(out, args, "destroy all resources" if destroy else "perform these actions"):
                out.print("\nApply cancelled.")
                return 1
        result = _run_apply(project, plan, backend, doc, args, out)
    project.close()
    return _report(result, out, project, destroy)


def cmd_destroy(args: argparse.Namespace, out: Out) -> int:
    args.plan_file = None
    return cmd_apply(args, out, destroy=True)


def _check_saved(plan: Plan, project: Project, doc: StateDocument) -> None:
    if plan.workspace != project.workspace:
        raise MlrtError(
            f'Saved plan is for workspace "{plan.workspace}"',
            f'It was made in workspace "{plan.workspace}", but the current workspace is '
            f'"{project.workspace}". Run `mlrt workspace select {plan.workspace}` to apply it, or '
            "make a new plan in this workspace.",
        )
    now_lineage = doc.lineage if doc.serial else None
    if plan.state_lineage != now_lineage or (plan.state_serial or 0) != doc.serial:
        raise MlrtError(
            "Saved plan is stale",
            f"The state changed since this plan was made (plan: serial {plan.state_serial}, lineage "
            f"{plan.state_lineage}; now: serial {doc.serial}, lineage {now_lineage}). Run `mlrt plan "
            "-out FILE` again and apply the new plan.",
        )
    if config_hash(project.config) != plan.config_hash:
        raise MlrtError(
            "Saved plan does not match the configuration",
            "The configuration files changed since this plan was made. Run `mlrt plan -out FILE` "
            "again and apply the new plan.",
        )


def _run_apply(
    project: Project, plan: Plan, backend: Backend, doc: StateDocument, args: argparse.Namespace, out: Out
) -> ApplyResult:
    stop = StopSignal()
    lock = threading.Lock()
    shown = ProgressFilter()

    def on_event(e: ApplyEvent) -> None:
        with lock:
            admitted = shown.admit(e, time.monotonic())
            if admitted is not None:
                _print_event(out, admitted)

    def on_sigint(signum: int, frame: Any) -> None:
        first = not stop.stop_requested.is_set()
        stop.request()
        what = "Termination signal" if signum == signal.SIGTERM else "Interrupt"
        if first:
            out.err.print(
                f"\n[bold yellow]{what} received.[/] Stopping: no new work starts, and long operations "
                "in flight (trainings, readiness waits) are asked to stop. Press Ctrl-C (or send "
                "SIGTERM) again to abandon them."
            )
        else:
            out.err.print("\n[bold red]Two interrupts received.[/] Abandoning work in flight.")

    gc.enable()  # trainings and services can run for hours: collect as usual from here on
    # SIGTERM (CI cancellation, `timeout`, a pod stopping) is an interrupt too, as in Terraform.
    on_main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, on_sigint) for sig in (signal.SIGINT, signal.SIGTERM)} if on_main else {}
    try:
        return apply_plan(
            project,
            plan,
            backend,
            doc,
            ApplyOptions(parallelism=max(1, getattr(args, "parallelism", 10)), on_event=on_event, stop=stop),
        )
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _print_event(out: Out, e: ApplyEvent) -> None:
    if out.json_mode:
        out.json(
            {
                "type": e.kind,
                "address": e.address,
                "action": e.action,
                "elapsed": round(e.elapsed, 3),
                "message": e.message,
                "id": e.id,
            }
        )
        return
    c = out.console
    a = escape(e.address)
    if e.kind == "start":
        c.print(
            f"[bold]{a}: {ING.get(e.action, e.action)}...[/]"
            + (f" [dim]{escape(f'[id={e.id}]')}[/]" if e.id else "")
        )
    elif e.kind == "done":
        c.print(
            f"[bold]{a}: {DONE.get(e.action, 'Done')} after {e.elapsed:.0f}s[/]"
            + (f" [dim]{escape(f'[id={e.id}]')}[/]" if e.id and e.action != "delete" else "")
        )
    elif e.kind == "still":
        still = f"{e.address}: {STILL.get(e.action, 'Still working...')} [{int(e.elapsed)}s elapsed]"
        c.print(still + (f" ({e.message})" if e.message else ""), markup=False)
    elif e.kind == "error":
        c.print(f"[bold red]{a}: failed after {e.elapsed:.0f}s[/]")
    elif e.kind == "skipped":
        c.print(f"[yellow]{a}: {escape(e.message)}[/]")
    elif e.kind == "retry":
        c.print(f"[yellow]{a}: {escape(e.message)}[/]")
    elif e.kind in ("log", "progress"):
        c.print(f"[dim]{a}:[/] {escape(e.message)}")


def _report(result: ApplyResult, out: Out, project: Project, destroy: bool) -> int:
    counts = result.counts()
    if result.warnings:
        print_diagnostics(out, list(result.warnings), project.config.sources, project.project_dir)
    for addr, exc in result.errors:
        out.err.print()
        out.err.print(f"[bold red]Error:[/] [bold]{escape(exc.summary)}[/]")
        out.err.print()
        if addr:
            out.err.print(f"  with {addr}", markup=False)
        if exc.detail:
            out.err.print()
            out.err.print(exc.detail, markup=False)
        if exc.__cause__ is not None:
            import os
            import traceback

            if os.environ.get("MLRT_DEBUG") == "1":
                traceback.print_exception(exc.__cause__)
    if result.interrupted:
        out.err.print(
            f"\n[bold red]Apply interrupted.[/] {len(result.done)} finished, "
            f"{len(result.skipped)} not started. The state holds everything that finished."
        )
        return 130
    if result.errors:
        if result.skipped:
            out.err.print(
                f"\n{len(result.skipped)} resource(s) skipped because something they depend on failed."
            )
        return 1
    if out.json_mode:
        out.json({"type": "apply_complete", "changes": counts})
        return 0
    out.print()
    if destroy:
        out.print(f"[bold green]Destroy complete! Resources: {counts['destroyed']} destroyed.[/]")
    else:
        out.print(
            f"[bold green]Apply complete! Resources: {counts['added']} added, {counts['changed']} changed, "
            f"{counts['destroyed']} destroyed.[/]"
        )
    return 0
