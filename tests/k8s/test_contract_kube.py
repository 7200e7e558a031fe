"""The provider contract (mlrt_iac/provider.py), checked for kubernetes against the test API server.

The same checks the generic suite (tests/contract/provider_suite.py) runs over every provider,
written directly until that suite is wired to `contract_case`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.errors import DeadlineExceeded
from mlrt_iac.model import computed_attributes
from mlrt_iac.provider import Related, RenderItem
from providers.kubernetes import quota as rq
from providers.kubernetes.drift import field_drift

from .apiserver import TestApiServer
from .contract_case import CONTRACT_TYPES, KubeCase, address_of, kube_case, minimal_desired

# Types realised by cluster objects; the others are records (a registry URL, egress entries
# that workloads' NetworkPolicies carry) with no object of their own that could go missing.
WITH_OBJECTS = ("compute_pool",)


@pytest.fixture()
def case(apiserver: TestApiServer, tmp_path: Path) -> Iterator[KubeCase]:
    with apiserver.store.lock:
        apiserver.store.objects.clear()
        apiserver.store.owners.clear()
        apiserver.store.pending_delete.clear()
        apiserver.faults.clear()
    with kube_case(apiserver, tmp_path) as c:
        yield c


def _handler(case: KubeCase, type_name: str) -> Any:
    h = case.provider.handler(type_name)
    assert h is not None
    return h


@pytest.mark.parametrize("type_name", CONTRACT_TYPES)
def test_create_result_keeps_the_contract(case: KubeCase, type_name: str) -> None:
    h = _handler(case, type_name)
    desired = minimal_desired(type_name)
    created = h.create(case.context(type_name), desired)
    assert created.id
    assert set(computed_attributes(type_name)) <= set(created.attributes)
    assert not [k for k in created.attributes if k.startswith("_")]
    json.dumps(created.private)  # opaque, but stored in the state document
    # Re-planning the same configuration against what was created changes nothing.
    diff = h.diff(case.context(type_name), created.attributes, desired)
    assert diff.changed == [] and not diff.needs_replace
    updated = h.update(case.context(type_name), created.id, created.attributes, desired)
    assert not [k for k in updated.attributes if k.startswith("_")]
    json.dumps(updated.private)


@pytest.mark.parametrize("type_name", CONTRACT_TYPES)
def test_delete_is_idempotent(case: KubeCase, apiserver: TestApiServer, type_name: str) -> None:
    h = _handler(case, type_name)
    created = h.create(case.context(type_name), minimal_desired(type_name))
    h.delete(case.context(type_name), created.id, created.attributes)
    h.delete(case.context(type_name), created.id, created.attributes)  # already gone: no error
    assert apiserver.objects() == []


@pytest.mark.parametrize("type_name", WITH_OBJECTS)
def test_read_of_a_missing_object_is_none(case: KubeCase, apiserver: TestApiServer, type_name: str) -> None:
    h = _handler(case, type_name)
    created = h.create(case.context(type_name), minimal_desired(type_name))
    assert h.read(case.context(type_name), created.id, created.attributes).attributes is not None
    with apiserver.store.lock:
        apiserver.store.objects.clear()  # deleted out of band
    assert h.read(case.context(type_name), created.id, created.attributes).attributes is None


@pytest.mark.parametrize("type_name", WITH_OBJECTS)
def test_create_is_all_or_nothing(case: KubeCase, apiserver: TestApiServer, type_name: str) -> None:
    with apiserver.store.lock:
        apiserver.store.controllers.clear()  # never ready: the create runs out of time
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        _handler(case, type_name).create(
            case.context(type_name, deadline_secs=0.3), minimal_desired(type_name)
        )
    assert time.monotonic() - start < 10
    assert apiserver.objects() == []


@pytest.mark.parametrize("type_name", [t for t in CONTRACT_TYPES if t not in WITH_OBJECTS])
def test_records_make_no_objects(case: KubeCase, apiserver: TestApiServer, type_name: str) -> None:
    _handler(case, type_name).create(case.context(type_name), minimal_desired(type_name))
    assert apiserver.objects() == []


def test_render_and_apply_make_the_same_objects(case: KubeCase, apiserver: TestApiServer) -> None:
    """`mlrt render` (all resources at once) and apply (one resource, references in ctx.related)
    produce the same manifests, and what the server stores carries every rendered field."""
    pool_addr = address_of("compute_pool")
    pool = minimal_desired("compute_pool")
    service = {
        "name": "api",
        "comment": None,
        "compute_pool": "pool",
        "model": "s3://bucket/model",
        "functions": ["predict"],
        "gpu_requests": 0,
        "max_instances": 1,
        "num_workers": 3,
        "max_queue": 12,  # the engine's default: 4 x num_workers
        "max_batch_rows": None,
        "ingress_enabled": False,
        "suspended": False,
        "external_access_integrations": [],
    }
    rendered = case.provider.render(
        [RenderItem(pool_addr, "compute_pool", pool), RenderItem("service.api", "service", service)]
    ).manifests
    pools = _handler(case, "compute_pool")
    services = _handler(case, "service")
    pool_ctx = case.context("compute_pool")
    service_ctx = case.ctx.for_resource(
        "service.api", {pool_addr: Related(pool_addr, "compute_pool", "pool", pool)}
    )
    applied = pools.render(pool_ctx, pool).manifests + services.render(service_ctx, service).manifests
    # A pool's own rendering holds its share of its quota; the render of everything also holds
    # the service's, which the service adds to the live quota when applied (quota.py).
    own = rq.key_of(pool_addr)
    assert applied == [
        rq.with_reservations(o, {k: v for k, v in rq.reservations_of(o).items() if k == own})
        if o["kind"] == "ResourceQuota"
        else o
        for o in rendered
    ]
    assert rq.key_of("service.api") in rq.reservations_of(
        next(o for o in rendered if o["kind"] == "ResourceQuota")
    )
    pools.create(pool_ctx, pool)
    services.create(service_ctx, service)
    for obj in rendered:
        meta = obj["metadata"]
        live = apiserver.get(obj["kind"], meta.get("namespace", ""), meta["name"])
        assert live is not None and field_drift(obj, live) == []
