"""Generic behaviour checks for one provider, as OpenTofu's `statemgr.TestFull` does for state
managers: every provider must keep the contract of `mlrt_iac.provider` the same way.

Desired attributes are built from the schemas (`mlrt_iac.model`), through the engine's own
path (`validate_instance` then `desired_attributes`): a block with only its required arguments
gets every default the engine fills, so the checks see what a real apply hands a handler.

Plugging a provider in: write a factory returning a `ProviderUnderTest` (a configured provider,
a context, the types it can create cheaply, the required values of each, a value that makes
create fail for each, and `prepare` for references a type needs) and add it to `PROVIDERS` in
`tests/contract/test_providers.py`. For example, a kubernetes factory would configure the
provider against the fake API server of `tests/k8s/apiserver.py` and list the types it renders.

The checks (`CHECKS`, each `check(put, type_name)`):

- create_is_all_or_nothing: a create with an invalid value raises an MlrtError, and reading
  the id the valid block at that address would have (`planned_id`) finds nothing.
- create_fills_the_schema: every computed attribute of the schema is present after create and
  JSON-serialisable; `private` is JSON-serialisable; no attribute name starts with `_`.
- read_finds_what_create_made: read of the created object returns attributes.
- unchanged_diff_is_empty: diff(prior = what create recorded, the same desired) has no change.
- read_of_a_missing_object_is_none: after delete, read is None.
- delete_is_idempotent: deleting twice does not fail.
- read_many_agrees_with_read (handlers with `read_many` only, see `BATCH_CHECKS`): for two
  created objects, a deleted one and one never created, `read_many` returns, in order, what
  `read` returns for each.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlrt_iac.config.instances import ResourceInstance
from mlrt_iac.diagnostics import SourceRange
from mlrt_iac.errors import MlrtError
from mlrt_iac.model import build_catalog, computed_attributes, validate_instance
from mlrt_iac.plan.desired import desired_attributes
from mlrt_iac.provider import (
    Attributes,
    BatchReader,
    Provider,
    ProviderContext,
    ReadRequest,
    Related,
    ResourceHandler,
)

Check = Callable[["ProviderUnderTest", str], None]
_serial = itertools.count()


@dataclass
class ProviderUnderTest:
    """One configured provider and what the checks need to drive it.

    `required`: the minimal values of each type's required arguments (the schema fills the
    rest); `invalid`: values that make create fail; `prepare(type_name, ctx)` returns the
    references (`ctx.related`) a type needs, creating them when the provider must see them.
    """

    provider: Provider
    ctx: ProviderContext
    required: dict[str, Attributes]
    invalid: dict[str, Attributes]
    prepare: Callable[[str, ProviderContext], dict[str, Related]] = lambda t, ctx: {}
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return sorted(self.required)

    def handler(self, type_name: str) -> ResourceHandler:
        h = self.provider.handler(type_name)
        assert h is not None, f"provider {self.provider.name} has no handler for {type_name}"
        return h

    def desired(self, type_name: str, **overrides: Any) -> tuple[str, Attributes]:
        """(address, desired attributes) of a new block of `type_name` with a fresh label."""
        label = f"contract_{next(_serial)}"
        inst = ResourceInstance(
            address=f"{type_name}.{label}",
            type=type_name,
            name=label,
            index_key=None,
            module_address="",
            provider=self.provider.name,
            attributes={**self.required[type_name], **overrides},
            range=SourceRange.at("contract.hcl", 1),
        )
        model, problems = validate_instance(inst, build_catalog(()))
        assert model is not None, [f"{d.summary}: {d.detail}" for d in problems]
        return inst.address, desired_attributes(inst, model)

    def context(self, type_name: str, address: str) -> ProviderContext:
        return self.ctx.for_resource(address, self.prepare(type_name, self.ctx))


def _jsonable(value: Any, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"{what} is not JSON-serialisable: {exc}")


def _create(put: ProviderUnderTest, type_name: str) -> tuple[ProviderContext, Attributes, Any]:
    address, desired = put.desired(type_name)
    ctx = put.context(type_name, address)
    res = put.handler(type_name).create(ctx, desired)
    ctx.private = dict(res.private)
    return ctx, desired, res


def create_is_all_or_nothing(put: ProviderUnderTest, type_name: str) -> None:
    h = put.handler(type_name)
    address, good = put.desired(type_name)
    bad = {**good, **put.invalid[type_name]}
    ctx = put.context(type_name, address)
    # Where the object would be: the id planned for the valid block at the same address (an
    # invalid one may have no id at all, since nothing can be made of it).
    planned = h.planned_id(ctx, good)
    assert planned is not None, f"{type_name}: planned_id must name the object before create"
    with pytest.raises(MlrtError):
        h.create(ctx, bad)
    assert h.read(ctx, planned, good).attributes is None, f"{type_name}: a failed create left {planned}"


def create_fills_the_schema(put: ProviderUnderTest, type_name: str) -> None:
    _, _, res = _create(put, type_name)
    attrs = {**res.attributes}
    missing = [k for k in computed_attributes(type_name) if k not in attrs]
    assert not missing, f"{type_name}: computed attributes missing after create: {missing}"
    _jsonable(attrs, f"{type_name} attributes")
    _jsonable(res.private, f"{type_name} private")
    hidden = [k for k in attrs if k.startswith("_")]
    assert not hidden, f"{type_name}: provider bookkeeping belongs in private, not {hidden}"


def read_finds_what_create_made(put: ProviderUnderTest, type_name: str) -> None:
    ctx, desired, res = _create(put, type_name)
    prior = {**desired, **res.attributes}
    got = put.handler(type_name).read(ctx, res.id, prior).attributes
    assert got is not None, f"{type_name}: read did not find {res.id} right after create"
    assert not [k for k in got if k.startswith("_")]


def unchanged_diff_is_empty(put: ProviderUnderTest, type_name: str) -> None:
    ctx, desired, res = _create(put, type_name)
    d = put.handler(type_name).diff(ctx, {**desired, **res.attributes}, desired)
    assert d.changed == [] and d.requires_replace == [], f"{type_name}: unchanged config diffs as {d}"


def read_of_a_missing_object_is_none(put: ProviderUnderTest, type_name: str) -> None:
    ctx, desired, res = _create(put, type_name)
    prior = {**desired, **res.attributes}
    put.handler(type_name).delete(ctx, res.id, prior)
    assert put.handler(type_name).read(ctx, res.id, prior).attributes is None


def delete_is_idempotent(put: ProviderUnderTest, type_name: str) -> None:
    ctx, desired, res = _create(put, type_name)
    prior = {**desired, **res.attributes}
    h = put.handler(type_name)
    h.delete(ctx, res.id, prior)
    h.delete(ctx, res.id, prior)  # the object is already gone: still no error


def read_many_agrees_with_read(put: ProviderUnderTest, type_name: str) -> None:
    h = put.handler(type_name)
    assert isinstance(h, BatchReader), f"{type_name}: no read_many"
    requests = []
    ctx, desired, res = _create(put, type_name)
    requests.append(ReadRequest(ctx, res.id, {**desired, **res.attributes}))
    # Deleted before the next create: a provider with a capacity budget (local pools) fits it.
    ctx, desired, res = _create(put, type_name)
    gone = ReadRequest(ctx, res.id, {**desired, **res.attributes})
    h.delete(ctx, gone.id, gone.prior)
    ctx, desired, res = _create(put, type_name)
    requests.append(ReadRequest(ctx, res.id, {**desired, **res.attributes}))
    requests.append(gone)
    address, desired = put.desired(type_name)
    never_ctx = put.context(type_name, address)
    planned = h.planned_id(never_ctx, desired)
    if planned is not None:
        requests.append(ReadRequest(never_ctx, planned, desired))
    batch = h.read_many(put.ctx, requests)
    assert len(batch.results) == len(requests), f"{type_name}: one result per request"
    for i, (req, got) in enumerate(zip(requests, batch.results)):
        assert not isinstance(got, Exception), f"{type_name}: read_many failed on request {i}: {got}"
        assert got.attributes == h.read(req.ctx, req.id, req.prior).attributes, f"{type_name}: request {i}"
    assert all(got.attributes is not None for got in batch.results[:2])  # type: ignore[union-attr]
    assert all(got.attributes is None for got in batch.results[2:])  # type: ignore[union-attr]


# Checks that apply only where a handler has the optional capability.
BATCH_CHECKS = ("read_many_agrees_with_read",)

CHECKS: dict[str, Check] = {
    f.__name__: f
    for f in (
        create_is_all_or_nothing,
        create_fills_the_schema,
        read_finds_what_create_made,
        unchanged_diff_is_empty,
        read_of_a_missing_object_is_none,
        delete_is_idempotent,
        read_many_agrees_with_read,
    )
}
