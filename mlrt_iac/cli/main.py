"""`mlrt`: the only place that prints and exits.

Every command returns an exit code; errors raised below are turned into Terraform-style red
lines here (tracebacks only with MLRT_DEBUG=1).

This module imports only the standard library: the parser is built from names, and a command's
module (with rich, pydantic, the engine and the providers behind it) is imported only when that
command runs, so `mlrt --help` and `mlrt version` start about as fast as Python does.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .console import Out


class Command:
    """A command named by its module and function, imported on the first call.

    The parser holds one per subcommand; only the chosen one ever loads its module.
    """

    def __init__(self, module: str, function: str) -> None:
        self.module = module
        self.function = function

    def load(self) -> Callable[[argparse.Namespace, Out], int]:
        fn: Callable[[argparse.Namespace, Out], int] = getattr(
            importlib.import_module(f"mlrt_iac.cli.{self.module}"), self.function
        )
        return fn

    def __call__(self, args: argparse.Namespace, out: Out) -> int:
        return self.load()(args, out)

    def __repr__(self) -> str:
        return f"Command({self.module}:{self.function})"


def _bool(v: str) -> bool:
    if v.lower() in ("true", "1", "yes"):
        return True
    if v.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {v!r}")


def _duration(v: str) -> float:
    v = v.strip()
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for u in ("ms", "s", "m", "h"):
        if v.endswith(u):
            return float(v[: -len(u)]) * units[u]
    return float(v)


def _common(p: argparse.ArgumentParser, *, vars_: bool = True, lock: bool = True, json_: bool = True) -> None:
    p.add_argument("-chdir", "--chdir", dest="chdir", default=None, help="run in this directory")
    p.add_argument(
        "-no-color", "--no-color", dest="no_color", action="store_true", help="plain text, no colours"
    )
    p.add_argument(
        "-input",
        "--input",
        dest="input",
        type=_bool,
        default=True,
        metavar="BOOL",
        help="ask for missing variables interactively (default true; false in pipelines)",
    )
    if json_:
        p.add_argument("-json", "--json", dest="json", action="store_true", help="machine-readable output")
    if vars_:
        p.add_argument(
            "-var",
            "--var",
            dest="vars",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="set a root variable (repeatable)",
        )
        p.add_argument(
            "-var-file",
            "--var-file",
            dest="var_files",
            action="append",
            default=[],
            metavar="FILE",
            help="read variables from a .hcl or .json file (repeatable)",
        )
    if lock:
        p.add_argument(
            "-lock-timeout",
            "--lock-timeout",
            dest="lock_timeout",
            type=_duration,
            default=0.0,
            metavar="DURATION",
            help="wait this long for the state lock (e.g. 30s; default 0: fail at once)",
        )
        p.add_argument(
            "-lock",
            "--lock",
            dest="lock",
            type=_bool,
            default=True,
            metavar="BOOL",
            help="lock the state while running (default true)",
        )


def _plan_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-target",
        "--target",
        dest="targets",
        action="append",
        default=[],
        metavar="ADDR",
        help="limit to this resource or module and what it depends on (repeatable)",
    )
    p.add_argument(
        "-replace",
        "--replace",
        dest="replace",
        action="append",
        default=[],
        metavar="ADDR",
        help="plan to replace this resource even if nothing changed (repeatable)",
    )
    p.add_argument(
        "-refresh",
        "--refresh",
        dest="refresh",
        type=_bool,
        default=True,
        metavar="BOOL",
        help="read every object's real state first (default true)",
    )
    p.add_argument(
        "-refresh-only",
        "--refresh-only",
        dest="refresh_only",
        action="store_true",
        help="only update the state from the real objects; change nothing",
    )
    p.add_argument(
        "-parallelism",
        "--parallelism",
        dest="parallelism",
        type=int,
        default=10,
        metavar="N",
        help="operations at once (default 10)",
    )
    p.add_argument(
        "-destroy",
        "--destroy",
        dest="destroy",
        action="store_true",
        help="plan to destroy everything managed",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlrt",
        description="Declarative infrastructure for ML: plan and apply "
        "compute pools, trainings and model services described in HCL.",
    )
    parser.add_argument(
        "-chdir",
        "--chdir",
        dest="global_chdir",
        default=None,
        help="switch to this directory before running the command",
    )
    parser.add_argument("-version", "--version", action="store_true")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, fn: Callable[[argparse.Namespace, Out], int], help_: str, **kw: Any
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        _common(p, **kw)
        p.set_defaults(func=fn)
        return p

    add(
        "init",
        Command("cmd_init", "cmd_init"),
        "List installed providers and backends and check the configuration needs.",
        vars_=False,
        lock=False,
    )
    add(
        "validate",
        Command("cmd_validate", "cmd_validate"),
        "Check the configuration: syntax, types, references, cross-block rules.",
        lock=False,
    )
    p = add(
        "fmt",
        Command("cmd_fmt", "cmd_fmt"),
        "Rewrite HCL files in the canonical layout.",
        vars_=False,
        lock=False,
        json_=False,
    )
    p.add_argument("-check", "--check", dest="check", action="store_true")
    p.add_argument("-diff", "--diff", dest="diff", action="store_true")
    p.add_argument("-recursive", "--recursive", dest="recursive", action="store_true")
    p.add_argument("-list", "--list", dest="list", type=_bool, default=True)
    p.add_argument("paths", nargs="*")

    p = add("plan", Command("cmd_plan", "cmd_plan"), "Show what apply would change.")
    _plan_flags(p)
    p.add_argument(
        "-out", "--out", dest="out", default=None, metavar="FILE", help="save the plan for `mlrt apply FILE`"
    )
    p.add_argument(
        "-detailed-exitcode",
        "--detailed-exitcode",
        dest="detailed_exitcode",
        action="store_true",
        help="exit 0 with no changes, 2 with changes, 1 on error",
    )
    p.add_argument(
        "-format",
        "--format",
        dest="format",
        choices=["human", "markdown"],
        default="human",
        help="markdown: a summary for a pull-request comment",
    )

    p = add(
        "apply",
        Command("cmd_plan", "cmd_apply"),
        "Make the infrastructure match the configuration (or a saved plan).",
    )
    _plan_flags(p)
    p.add_argument(
        "-auto-approve",
        "--auto-approve",
        dest="auto_approve",
        action="store_true",
        help="do not ask to confirm",
    )
    p.add_argument("plan_file", nargs="?", default=None, help="a plan saved by `mlrt plan -out FILE`")

    p = add("destroy", Command("cmd_plan", "cmd_destroy"), "Destroy everything this configuration manages.")
    _plan_flags(p)
    p.add_argument(
        "-auto-approve",
        "--auto-approve",
        dest="auto_approve",
        action="store_true",
        help="do not ask to confirm",
    )

    p = add(
        "show", Command("cmd_misc", "cmd_show"), "Show the state, or a saved plan.", vars_=False, lock=False
    )
    p.add_argument("file", nargs="?", default=None)

    p = add("output", Command("cmd_misc", "cmd_output"), "Show output values.", vars_=False, lock=False)
    p.add_argument("-raw", "--raw", dest="raw", action="store_true")
    p.add_argument("name", nargs="?", default=None)

    add(
        "console",
        Command("cmd_console", "cmd_console"),
        "Evaluate expressions (one per line on standard input) against the configuration and state.",
        lock=False,
        json_=False,
    )

    p = add(
        "graph",
        Command("cmd_misc", "cmd_graph"),
        "Print the dependency graph as Graphviz DOT.",
        lock=False,
        json_=False,
    )
    p.add_argument("-type", "--type", dest="type", choices=["plan", "config"], default="config")

    p = add(
        "render",
        Command("cmd_misc", "cmd_render"),
        "Write the manifests a provider would apply (GitOps).",
        lock=False,
    )
    p.add_argument("-out", "--out", dest="out", default=None, metavar="DIR")
    p.add_argument("-provider", "--provider", dest="provider", default="kubernetes")

    p = add(
        "logs",
        Command("cmd_logs", "cmd_logs"),
        "Show the logs of a training or service.",
        vars_=False,
        lock=False,
    )
    p.add_argument(
        "-f", "-follow", "--follow", dest="follow", action="store_true", help="keep showing new lines"
    )
    p.add_argument(
        "-since",
        "--since",
        dest="since",
        default=None,
        metavar="WHEN",
        help="only lines since 10m, 2h, or a time",
    )
    p.add_argument(
        "-instance",
        "--instance",
        dest="instance",
        type=int,
        default=None,
        metavar="N",
        help="one service instance, or one training worker (rank)",
    )
    p.add_argument(
        "-tail",
        "--tail",
        dest="tail",
        type=int,
        default=None,
        metavar="N",
        help="the last N lines of each source",
    )
    p.add_argument("address")

    p = add("import", Command("cmd_state", "cmd_import"), "Record an existing object in the state.")
    p.add_argument("address")
    p.add_argument("id")

    p = add(
        "force-unlock",
        Command("cmd_state", "cmd_force_unlock"),
        "Release a stuck state lock.",
        vars_=False,
        lock=False,
    )
    p.add_argument("-force", "--force", dest="force", action="store_true")
    p.add_argument("lock_id")

    sp = sub.add_parser(
        "state", help="Inspect and edit the state.", description="Inspect and edit the state."
    )
    sp.set_defaults(parser_of_group=sp)
    ssub = sp.add_subparsers(dest="state_command", metavar="SUBCOMMAND")
    for name, fn, help_ in (
        ("list", Command("cmd_state", "cmd_state_list"), "List resources in the state."),
        ("show", Command("cmd_state", "cmd_state_show"), "Show one resource."),
        ("rm", Command("cmd_state", "cmd_state_rm"), "Forget resources (does not destroy them)."),
        ("mv", Command("cmd_state", "cmd_state_mv"), "Move a resource to another address."),
        ("pull", Command("cmd_state", "cmd_state_pull"), "Print the state JSON."),
        ("push", Command("cmd_state", "cmd_state_push"), "Replace the state with a file."),
    ):
        q = ssub.add_parser(name, help=help_, description=help_)
        _common(q, vars_=False)
        q.set_defaults(func=fn)
        if name in ("list",):
            q.add_argument("addresses", nargs="*")
        elif name in ("show",):
            q.add_argument("address")
        elif name == "rm":
            q.add_argument("addresses", nargs="+")
        elif name == "mv":
            q.add_argument("source")
            q.add_argument("destination")
        elif name == "push":
            q.add_argument("-force", "--force", dest="force", action="store_true")
            q.add_argument("file")
    wp = sub.add_parser(
        "workspace", help="Manage workspaces (named states).", description="Manage workspaces (named states)."
    )
    wp.set_defaults(parser_of_group=wp)
    wsub = wp.add_subparsers(dest="workspace_command", metavar="SUBCOMMAND")
    for name, help_, lock in (
        ("new", "Create a new workspace and switch to it.", True),
        ("select", "Switch to a workspace.", False),
        ("list", "List workspaces; the current one is marked with *.", False),
        ("show", "Show the name of the current workspace.", False),
        ("delete", "Delete a workspace and its (empty) state.", True),
    ):
        q = wsub.add_parser(name, help=help_, description=help_)
        _common(q, vars_=False, json_=False, lock=lock)
        q.set_defaults(func=Command("cmd_workspace", f"cmd_workspace_{name}"))
        if name in ("new", "select", "delete"):
            q.add_argument("name")
        if name == "select":
            # A flag, also spelled `-or-create=true` as Terraform accepts (an exact option string
            # is matched before argparse splits at "=").
            q.add_argument(
                "-or-create",
                "--or-create",
                "-or-create=true",
                dest="or_create",
                action="store_true",
                help="create the workspace if it does not exist",
            )
            q.add_argument("-or-create=false", dest="or_create", action="store_false", help=argparse.SUPPRESS)
        if name == "delete":
            q.add_argument(
                "-force",
                "--force",
                dest="force",
                action="store_true",
                help="delete even if its state still tracks resources",
            )
    # Like `terraform version`; answered before any command module is imported.
    v = sub.add_parser("version", help="Show the mlrt version.", description="Show the mlrt version.")
    v.add_argument("-json", "--json", dest="json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None) -> int:
    # A command builds large object graphs (ASTs, schemas) it keeps until it exits: cyclic GC
    # passes over them cost a fifth of a 5,000-block validate and free nothing. The long-running
    # part of apply turns it back on.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if was_enabled:
            gc.enable()


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Terraform's `-help` (and `-h`) work on every command, as argparse's --help does.
    argv = ["--help" if a == "-help" else a for a in argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version or args.command == "version":
        from ..version import mlrt_version

        if getattr(args, "json", False):  # like `terraform version -json`
            import json
            import platform

            info = {
                "mlrt_version": mlrt_version(),
                "platform": f"{sys.platform}_{platform.machine().lower()}",
                "python_version": platform.python_version(),
            }
            print(json.dumps(info, indent=2))
        else:
            print(f"mlrt v{mlrt_version()}")
        return 0
    if not getattr(args, "func", None):
        # `mlrt state` alone: that group's own help, as `terraform state` prints its subcommands.
        getattr(args, "parser_of_group", parser).print_help()
        return 1
    # Only now that a command runs are the terminal, the errors and their views imported.
    from rich.markup import escape

    from ..errors import DiagnosticsError, MlrtError, StateLockedError
    from .console import Out
    from .diagnostics_view import diagnostics_json, print_diagnostics
    from .session import project_dir

    out = Out(
        no_color=getattr(args, "no_color", False) or bool(os.environ.get("NO_COLOR")),
        json_mode=getattr(args, "json", False),
    )
    try:
        return int(args.func(args, out))
    except DiagnosticsError as exc:
        if out.json_mode:
            out.json(diagnostics_json(exc.diagnostics))
        else:
            print_diagnostics(out, exc.diagnostics, exc.sources, project_dir(args))
        _debug()
        return 1
    except StateLockedError as exc:
        out.err.print()
        out.err.print(f"[bold red]Error:[/] [bold]{escape(exc.summary)}[/]")
        if exc.detail:
            out.err.print()
            out.err.print(exc.detail, markup=False)
        _debug()
        return 1
    except MlrtError as exc:
        if out.json_mode:
            out.json({"error": exc.summary, "detail": exc.detail})
        out.err.print()
        out.err.print(f"[bold red]Error:[/] [bold]{escape(exc.summary)}[/]")
        if exc.detail:
            out.err.print()
            out.err.print(exc.detail, markup=False)
        _debug()
        return 1
    except KeyboardInterrupt:
        out.err.print("\n[bold red]Interrupted.[/]")
        return 130
    except BrokenPipeError:
        # `mlrt state list | head -3`: the reader has all it wanted; that is not an error.
        _silence_stdout()
        return 0
    except Exception as exc:
        out.err.print()
        out.err.print(
            f"[bold red]Error:[/] [bold]internal error: {escape(type(exc).__name__)}: {escape(str(exc))}[/]"
        )
        out.err.print("\nThis is a bug in mlrt. Run again with MLRT_DEBUG=1 to see the traceback.")
        _debug()
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _debug() -> None:
    if os.environ.get("MLRT_DEBUG") == "1":
        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
