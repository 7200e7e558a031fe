"""`mlrt state list | show | rm | mv | pull | push` on real documents and a real backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.errors import MlrtError, StateError, StateLockedError
from mlrt_iac.state import LockInfo, ResourceState, StateDocument
from mlrt_iac.state import operations as ops
from state.local_backend import LocalBackend

ADDRS = [
    "compute_pool.cpu",
    "network_rule.r[0]",
    "network_rule.r[1]",
    'module.team["a"].training.t',
    'module.team["a"].service.api',
    'module.team["b"].training.t',
    "module.other.service.api",
]


def make_doc() -> StateDocument:
    doc = StateDocument.new()
    for a in ADDRS:
        doc.set(ResourceState.new(a, "local", "id-" + a))
    api = doc.get('module.team["a"].service.api')
    assert api is not None
    api.dependencies = ['module.team["a"].training.t', "compute_pool.cpu"]
    return doc


def test_list_all_and_filtered() -> None:
    doc = make_doc()
    assert ops.list_addresses(doc) == doc.addresses() and len(ops.list_addresses(doc)) == len(ADDRS)
    assert ops.list_addresses(doc, ["network_rule.r"]) == ["network_rule.r[0]", "network_rule.r[1]"]
    assert ops.list_addresses(doc, ["module.team"]) == [
        'module.team["a"].service.api',
        'module.team["a"].training.t',
        'module.team["b"].training.t',
    ]
    assert ops.list_addresses(None) == []


def test_show_exact_or_a_helpful_error() -> None:
    doc = make_doc()
    assert ops.show(doc, "compute_pool.cpu").id == "id-compute_pool.cpu"
    with pytest.raises(StateError, match="2 instances"):
        ops.show(doc, "network_rule.r")
    with pytest.raises(StateError) as info:
        ops.show(doc, "compute_pool.cpus")
    assert "Did you mean compute_pool.cpu" in info.value.detail


def test_rm_forgets_one_a_block_or_a_module() -> None:
    doc = make_doc()
    assert ops.remove(doc, ["compute_pool.cpu"]) == ["compute_pool.cpu"]
    assert ops.remove(doc, ["network_rule.r"]) == ["network_rule.r[0]", "network_rule.r[1]"]
    assert ops.remove(doc, ['module.team["a"]']) == [
        'module.team["a"].service.api',
        'module.team["a"].training.t',
    ]
    assert doc.addresses() == ["module.other.service.api", 'module.team["b"].training.t']


def test_rm_of_something_absent_removes_nothing() -> None:
    doc = make_doc()
    with pytest.raises(StateError, match="No resource service.nope") as info:
        ops.remove(doc, ["compute_pool.cpu", "service.nope"])
    assert "Nothing was removed" in info.value.detail
    assert len(doc) == len(ADDRS)


def test_mv_one_resource_keeps_its_object_and_dependencies_follow() -> None:
    doc = make_doc()
    assert ops.move(doc, "compute_pool.cpu", "compute_pool.main") == [
        ("compute_pool.cpu", "compute_pool.main")
    ]
    moved = doc.get("compute_pool.main")
    assert moved is not None and moved.id == "id-compute_pool.cpu" and moved.name == "main"
    api = doc.get('module.team["a"].service.api')
    assert api is not None and "compute_pool.main" in api.dependencies


def test_mv_into_a_module_and_to_a_keyed_instance() -> None:
    doc = make_doc()
    ops.move(doc, "compute_pool.cpu", "module.infra.compute_pool.cpu")
    moved = doc.get("module.infra.compute_pool.cpu")
    assert moved is not None and moved.module == "module.infra"
    ops.move(doc, "module.infra.compute_pool.cpu", 'compute_pool.pools["cpu"]')
    keyed = doc.get('compute_pool.pools["cpu"]')
    assert keyed is not None and keyed.index_key == "cpu" and keyed.module == ""


def test_mv_every_instance_of_a_block() -> None:
    doc = make_doc()
    pairs = ops.move(doc, "network_rule.r", "network_rule.egress")
    assert pairs == [
        ("network_rule.r[0]", "network_rule.egress[0]"),
        ("network_rule.r[1]", "network_rule.egress[1]"),
    ]
    e1 = doc.get("network_rule.egress[1]")
    assert e1 is not None and e1.index_key == 1 and e1.name == "egress"


def test_mv_a_whole_module() -> None:
    doc = make_doc()
    pairs = ops.move(doc, 'module.team["a"]', "module.alpha")
    assert sorted(new for _, new in pairs) == ["module.alpha.service.api", "module.alpha.training.t"]
    api = doc.get("module.alpha.service.api")
    assert api is not None and api.module == "module.alpha"
    assert api.dependencies == ["module.alpha.training.t", "compute_pool.cpu"]
    assert ops.list_addresses(doc, ['module.team["a"]']) == []


@pytest.mark.parametrize(
    "src,dst,message",
    [
        ("compute_pool.cpu", "service.cpu", "types differ"),
        ('module.team["a"]', "module.other", "already exists"),
        ("network_rule.r", "network_rule.x[0]", "instances with keys"),
        ("module.team", 'module.t2["z"]', "instances with keys"),
        ("module.other", "service.x", "must be a module too"),
        ("compute_pool.gone", "compute_pool.x", "No resource"),
        ("compute_pool.cpu", "module.x", "destination is a module"),
        ("compute_pool.cpu", "compute_pool.", "Invalid resource address"),
    ],
)
def test_mv_refusals_change_nothing(src: str, dst: str, message: str) -> None:
    doc = make_doc()
    before = doc.to_dict()
    with pytest.raises(MlrtError) as info:  # StateError, or AddressError for a malformed one
        ops.move(doc, src, dst)
    assert message in info.value.summary + " " + info.value.detail
    assert doc.to_dict() == before


def test_pull_is_the_json_text() -> None:
    doc = make_doc()
    assert StateDocument.from_json(ops.pull(doc)).to_dict() == doc.to_dict()
    assert ops.pull(None) == ""


def stored(tmp_path: Path, serial_writes: int = 3) -> tuple[LocalBackend, StateDocument]:
    b = LocalBackend(tmp_path, {})
    doc = make_doc()
    for _ in range(serial_writes):
        b.write(doc)
    current = b.read()
    assert current is not None
    return b, current


def test_push_refuses_another_lineage(tmp_path: Path) -> None:
    _, current = stored(tmp_path)
    other = make_doc()
    other.serial = 10
    with pytest.raises(StateError, match="different lineage") as info:
        ops.push(current, other)
    assert current.lineage in info.value.detail and other.lineage in info.value.detail
    assert "-force" in info.value.detail
    assert ops.push(current, other, force=True) is other


def test_push_refuses_a_lower_serial(tmp_path: Path) -> None:
    b, current = stored(tmp_path)
    old = StateDocument.from_json(b.backup_path.read_text())  # serial 2, same lineage
    with pytest.raises(StateError, match="older state") as info:
        ops.push(current, old)
    assert "serial 3" in info.value.detail and "2" in info.value.detail
    forced = ops.push(current, old, force=True)
    b.write(forced)
    assert forced.serial == 4  # past both, so no copy of the old history looks newer


def test_push_refuses_a_diverged_copy_with_the_same_serial(tmp_path: Path) -> None:
    _, current = stored(tmp_path)
    copy = current.copy()
    assert ops.push(current, copy.copy()) is not None  # identical content is fine
    copy.remove("compute_pool.cpu")
    with pytest.raises(StateError, match="diverged"):
        ops.push(current, copy)


def test_push_of_a_newer_copy_and_onto_no_state(tmp_path: Path) -> None:
    b, current = stored(tmp_path)
    edited = current.copy()
    edited.remove("compute_pool.cpu")
    edited.serial += 2
    b.write(ops.push(current, edited))
    after = b.read()
    assert after is not None and after.serial == 6 and "compute_pool.cpu" not in after
    fresh = LocalBackend(tmp_path / "new", {})
    fresh.write(ops.push(None, make_doc()))
    assert fresh.read() is not None


def test_transaction_locks_reads_writes_and_unlocks(tmp_path: Path) -> None:
    b, _ = stored(tmp_path)
    with ops.transaction(b, "state rm") as doc:
        with pytest.raises(StateLockedError, match="state rm"):
            LocalBackend(tmp_path, {}).lock(LockInfo("plan"))
        ops.remove(doc, ["compute_pool.cpu"])
    after = b.read()
    assert after is not None and after.serial == 4 and "compute_pool.cpu" not in after
    with pytest.raises(StateError):
        with ops.transaction(b, "state mv") as doc:
            ops.move(doc, "compute_pool.none", "compute_pool.x")
    again = b.read()
    assert again is not None and again.serial == 4  # a failed operation writes nothing
    b.unlock(b.lock(LockInfo("plan")))  # and the lock was released


def test_mv_of_a_module_with_instances_keeps_their_keys() -> None:
    doc = make_doc()
    ops.move(doc, "module.team", "module.squad")
    assert ops.list_addresses(doc, ["module.squad"]) == [
        'module.squad["a"].service.api',
        'module.squad["a"].training.t',
        'module.squad["b"].training.t',
    ]
