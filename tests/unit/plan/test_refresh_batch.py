"""Refresh through `read_many` (mlrt_iac/plan/refresh.py): one call per handler, the same
results as per-object `read`, per-object failures kept apart, unmanaged objects warned about.

The handlers here keep objects as JSON files in one folder, like tests/support/testprovider.py;
their `read_many` scans the folder once, so the engine's use of it is observable as a count.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.plan.refresh import READ_MANY_ENV, refresh_resources
from mlrt_iac.provider import (
    BatchReader,
    BatchReadResult,
    Provider,
    ProviderContext,
    ReadRequest,
    ReadResult,
    ResourceHandler,
)
from mlrt_iac.state import ResourceState


class FileHandler(ResourceHandler):
    """Objects are `<root>/<type>/<id>.json`; an id in `broken` cannot be read."""

    type_name: ClassVar[str] = "network_rule"

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self.reads = 0
        self.batches = 0
        self.broken: set[str] = set()
        self.fail_batch = False
        self.short = False

    def folder(self, ctx: ProviderContext) -> Path:
        return ctx.data_dir / self.type_name

    def read(self, ctx: ProviderContext, id: str, prior: dict[str, Any]) -> ReadResult:
        self.reads += 1
        if id in self.broken:
            raise PermanentError(f"cannot read {id}")
        path = self.folder(ctx) / f"{id}.json"
        return ReadResult(json.loads(path.read_text()) if path.exists() else None)


class BatchFileHandler(FileHandler):
    type_name: ClassVar[str] = "compute_pool"

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        self.batches += 1
        if self.fail_batch:
            raise PermanentError("the listing failed")
        listed = {p.stem: json.loads(p.read_text()) for p in self.folder(ctx).glob("*.json")}
        results: list[ReadResult | Exception] = []
        for req in requests:
            if req.id in self.broken:
                results.append(PermanentError(f"cannot read {req.id}"))
            else:
                results.append(ReadResult(listed.get(req.id)))
        wanted = {req.id for req in requests}
        if self.short:
            results = results[:-1]
        return BatchReadResult(results, [f"compute_pool {n}" for n in sorted(set(listed) - wanted)])


class FilesProvider(Provider):
    name = "files"
    handler_classes = (FileHandler, BatchFileHandler)


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[FilesProvider, ProviderContext, list[ResourceState]]:
    ctx = ProviderContext(tmp_path, tmp_path / ".mlrt")
    provider = FilesProvider()
    resources = []
    for type_name in ("network_rule", "compute_pool"):
        (ctx.data_dir / type_name).mkdir(parents=True)
        for i in range(4):
            attrs = {"name": f"o{i}", "size": i}
            (ctx.data_dir / type_name / f"o{i}.json").write_text(json.dumps(attrs))
            resources.append(
                ResourceState(f"{type_name}.o{i}", type_name, f"o{i}", "files", f"o{i}", attributes=attrs)
            )
    return provider, ctx, resources


def _handlers(provider: FilesProvider) -> tuple[FileHandler, BatchFileHandler]:
    single, batch = provider.handler("network_rule"), provider.handler("compute_pool")
    assert isinstance(single, FileHandler) and isinstance(batch, BatchFileHandler)
    return single, batch


def test_the_protocol_is_detected_only_where_implemented(setup: Any) -> None:
    single, batch = _handlers(setup[0])
    assert isinstance(batch, BatchReader) and not isinstance(single, BatchReader)


def test_read_many_is_one_call_per_handler_and_agrees_with_read(setup: Any) -> None:
    provider, ctx, resources = setup
    single, batch = _handlers(provider)
    (ctx.data_dir / "compute_pool" / "o1.json").unlink()  # deleted outside mlrt
    (ctx.data_dir / "compute_pool" / "o2.json").write_text(json.dumps({"name": "o2", "size": 9}))
    (ctx.data_dir / "network_rule" / "o3.json").unlink()

    observed, drift, diags = refresh_resources(resources, lambda _: provider, ctx, 4)
    assert not diags, list(diags)
    assert batch.batches == 1 and batch.reads == 0
    assert single.reads == 4 and single.batches == 0
    per_object, drift2, _ = refresh_resources(resources, lambda _: provider, ctx, 4, batch=False)
    assert batch.batches == 1 and batch.reads == 4
    assert observed == per_object
    assert [(d.address, d.changed) for d in drift] == [(d.address, d.changed) for d in drift2]
    assert observed["compute_pool.o1"] is None and observed["network_rule.o3"] is None
    assert {d.address for d in drift} == {"compute_pool.o1", "compute_pool.o2", "network_rule.o3"}


def test_the_environment_forces_per_object_reads(setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, ctx, resources = setup
    _, batch = _handlers(provider)
    monkeypatch.setenv(READ_MANY_ENV, "0")
    refresh_resources(resources, lambda _: provider, ctx, 4)
    assert batch.batches == 0 and batch.reads == 4
    monkeypatch.setenv(READ_MANY_ENV, "1")
    refresh_resources(resources, lambda _: provider, ctx, 4)
    assert batch.batches == 1 and batch.reads == 4


def test_one_failed_object_does_not_fail_the_others(setup: Any) -> None:
    provider, ctx, resources = setup
    _, batch = _handlers(provider)
    batch.broken = {"o2"}
    observed, drift, diags = refresh_resources(resources, lambda _: provider, ctx, 4)
    assert [d.summary for d in diags.errors()] == ["Failed to refresh compute_pool.o2"]
    assert observed["compute_pool.o2"] == {"name": "o2", "size": 2}  # prior kept, not "gone"
    assert observed["compute_pool.o3"] == {"name": "o3", "size": 3}
    assert drift == []


def test_a_failed_batch_fails_each_of_its_objects_and_keeps_them(setup: Any) -> None:
    provider, ctx, resources = setup
    _, batch = _handlers(provider)
    batch.fail_batch = True
    observed, drift, diags = refresh_resources(resources, lambda _: provider, ctx, 4)
    assert sorted(d.summary for d in diags.errors()) == [
        f"Failed to refresh compute_pool.o{i}" for i in range(4)
    ]
    assert all(observed[f"compute_pool.o{i}"] == {"name": f"o{i}", "size": i} for i in range(4))
    assert observed["network_rule.o0"] == {"name": "o0", "size": 0}
    assert drift == []


def test_a_result_count_mismatch_is_an_error_not_a_guess(setup: Any) -> None:
    provider, ctx, resources = setup
    _, batch = _handlers(provider)
    batch.short = True
    observed, _, diags = refresh_resources(resources, lambda _: provider, ctx, 4)
    assert len(diags.errors()) == 4
    assert all("returned 3 results for 4 objects" in d.detail for d in diags.errors())
    assert observed["compute_pool.o3"] == {"name": "o3", "size": 3}


def test_unmanaged_objects_are_one_warning_and_no_change(setup: Any) -> None:
    provider, ctx, resources = setup
    (ctx.data_dir / "compute_pool" / "stray.json").write_text(json.dumps({"name": "stray"}))
    (ctx.data_dir / "compute_pool" / "other.json").write_text(json.dumps({"name": "other"}))
    observed, drift, diags = refresh_resources(resources, lambda _: provider, ctx, 4)
    assert not diags.has_errors and drift == []
    [warning] = diags.warnings()
    assert warning.summary == "2 objects managed by mlrt but not in this state"
    assert "compute_pool other" in warning.detail and "compute_pool stray" in warning.detail
    assert set(observed) == {r.address for r in resources}  # nothing added to the plan's view
