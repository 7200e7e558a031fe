"""state list/show/rm/mv/pull/push, import, force-unlock.

State edits never touch real objects: `rm` forgets, `mv` renames, `import` adopts.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape

from ..config.instances import ResourceInstance
from ..errors import MlrtError
from ..model import computed_attributes
from ..plan.imports import imported_entry
from ..state import operations as ops
from ..state import push_document
from ..values import UNKNOWN
from .cmd_misc import _print_resource
from .console import Out
from .session import backend_for, locked, open_project_for, read_state, read_text_file


def cmd_state_list(args: argparse.Namespace, out: Out) -> int:
    doc = read_state(backend_for(open_project_for(args)))
    addrs = ops.list_addresses(doc, args.addresses or ())
    if out.json_mode:
        out.json(addrs)
    else:
        for a in addrs:
            out.raw(a + "\n")
    return 0


def cmd_state_show(args: argparse.Namespace, out: Out) -> int:
    doc = read_state(backend_for(open_project_for(args)))
    r = doc.get(args.address)
    if r is None:
        raise MlrtError(
            f"No instance found for the given address: {args.address}",
            "Run `mlrt state list` to see the addresses in the state.",
        )
    if out.json_mode:
        from ..plan.json_view import all_resources, state_json

        one = [x for x in all_resources(state_json(doc)) if x["address"] == args.address]
        out.json(one[0])
    else:
        _print_resource(out, r)
    return 0


def cmd_state_rm(args: argparse.Namespace, out: Out) -> int:
    backend = backend_for(open_project_for(args))
    with locked(backend, "state rm", args):
        doc = read_state(backend)
        removed = ops.remove(doc, args.addresses)
        backend.write(doc)
    for a in removed:
        out.print(f"Removed {escape(a)}")
    out.print(f"Successfully removed {len(removed)} resource instance(s).")
    return 0


def cmd_state_mv(args: argparse.Namespace, out: Out) -> int:
    backend = backend_for(open_project_for(args))
    with locked(backend, "state mv", args):
        doc = read_state(backend)
        moved = ops.move(doc, args.source, args.destination)
        backend.write(doc)
    out.print(f'Move "{escape(args.source)}" to "{escape(args.destination)}"')
    out.print(f"Successfully moved {len(moved)} object(s).")
    return 0


def cmd_state_pull(args: argparse.Namespace, out: Out) -> int:
    text = ops.pull(read_state(backend_for(open_project_for(args))))
    out.raw(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_state_push(args: argparse.Namespace, out: Out) -> int:
    backend = backend_for(open_project_for(args))
    text = read_text_file(args, args.file, "state file")
    with locked(backend, "state push", args):
        current = backend.read()
        new = push_document(backend, text, current, force=args.force)
    out.print(f"Pushed state with serial {new.serial}.")
    return 0


def cmd_import(args: argparse.Namespace, out: Out) -> int:
    project = open_project_for(args)
    backend = backend_for(project)
    with locked(backend, "import", args):
        doc = read_state(backend)

        def resolver(i: ResourceInstance) -> dict[str, Any]:
            """References to resources in state resolve to their recorded values (a service's
            `model = training.x.model_uri` is known once the training is in state)."""
            r = doc.get(i.address)
            if r is not None:
                return {**r.attributes, "id": r.id}
            return {**i.attributes, **{c: UNKNOWN for c in computed_attributes(i.type)}}

        ev, _ = project.evaluate(resolver=resolver)
        inst = next((i for i in ev.instances if i.address == args.address), None)
        if inst is None:
            raise MlrtError(
                "Configuration for import target does not exist",
                f"The configuration does not declare {args.address}. Add a block for it, then import.",
            )
        if doc.get(args.address) is not None:
            raise MlrtError(
                "Resource already managed by mlrt",
                f"{args.address} is already in the state. Remove it with `mlrt state rm` to "
                "import a different object.",
            )
        handler = project.provider(inst.provider).handler(inst.type)
        if handler is None:
            raise MlrtError(f'Provider "{inst.provider}" does not support {inst.type}')
        res = handler.import_(project.context().for_resource(inst.address), args.id)
        if res.attributes is None:
            raise MlrtError(
                "Cannot import non-existent remote object",
                f"While attempting to import {args.id} as {args.address}, the provider found no such object.",
            )
        doc.set(imported_entry(inst, args.id, dict(res.attributes), project.provider_configs))
        backend.write(doc)
    out.print(f"[bold green]{escape(args.address)}: Import successful![/] Imported id {escape(args.id)}.")
    out.print(
        "The object is now in the state and managed by mlrt. Run `mlrt plan` to see how the "
        "configuration differs from it."
    )
    return 0


def cmd_force_unlock(args: argparse.Namespace, out: Out) -> int:
    backend = backend_for(open_project_for(args))
    backend.force_unlock(args.lock_id)
    out.print(f"[bold green]mlrt state has been successfully unlocked![/] (lock {escape(args.lock_id)})")
    return 0
