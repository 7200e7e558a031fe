"""The state document: fields, index, JSON round trip and clear errors on broken documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlrt_iac.errors import StateError
from mlrt_iac.state import OutputState, ResourceState, StateDocument
from mlrt_iac.values import UNKNOWN, Sensitive


def make_doc() -> StateDocument:
    doc = StateDocument.new()
    doc.set(ResourceState.new("compute_pool.cpu", "local", "pool-1", {"min_nodes": 1}))
    doc.set(
        ResourceState.new(
            'module.team["a"].training.t[0]',
            "ray.big",
            "run-7",
            {"params": {"eta": 0.1}},
            dependencies=["compute_pool.cpu"],
        )
    )
    doc.outputs["endpoint"] = OutputState("http://x", False)
    return doc


def test_new_document_has_lineage_and_serial_zero() -> None:
    a, b = StateDocument.new(), StateDocument.new()
    assert a.serial == 0 and a.format_version == 1
    assert a.lineage != b.lineage and len(a.lineage) == 36


def test_resource_fields_come_from_the_address() -> None:
    rs = ResourceState.new('module.team["a"].training.t[0]', "ray.big", "run-7")
    assert (rs.type, rs.name, rs.module, rs.index_key) == ("training", "t", 'module.team["a"]', 0)
    assert rs.status == "ready" and rs.created_at.endswith("Z") and rs.created_at == rs.updated_at


def test_get_set_remove_addresses() -> None:
    doc = make_doc()
    assert doc.addresses() == ["compute_pool.cpu", 'module.team["a"].training.t[0]']
    assert doc.get("compute_pool.cpu") is not None and "compute_pool.cpu" in doc
    removed = doc.remove("compute_pool.cpu")
    assert removed is not None and removed.id == "pool-1"
    assert doc.get("compute_pool.cpu") is None and len(doc) == 1
    assert doc.remove("compute_pool.cpu") is None


def test_set_accepts_a_plain_mapping_and_validates_it() -> None:
    doc = StateDocument.new()
    doc.set({"address": "network_rule.r", "type": "network_rule", "name": "r", "provider": "local"})
    assert doc.get("network_rule.r") is not None
    with pytest.raises(StateError, match="status"):
        doc.set(
            {
                "address": "network_rule.s",
                "type": "network_rule",
                "name": "s",
                "provider": "local",
                "status": "half-done",
            }
        )


def test_move_renames_and_rewrites_dependencies() -> None:
    doc = make_doc()
    doc.move("compute_pool.cpu", "compute_pool.main")
    moved = doc.get("compute_pool.main")
    assert moved is not None and moved.name == "main" and doc.get("compute_pool.cpu") is None
    t = doc.get('module.team["a"].training.t[0]')
    assert t is not None and t.dependencies == ["compute_pool.main"]


def test_move_refuses_other_type_and_existing_destination() -> None:
    doc = make_doc()
    doc.set(ResourceState.new("compute_pool.gpu", "local", "pool-2"))
    with pytest.raises(StateError, match="types differ"):
        doc.move("compute_pool.cpu", "service.cpu")
    with pytest.raises(StateError, match="already exists"):
        doc.move("compute_pool.cpu", "compute_pool.gpu")
    with pytest.raises(StateError, match="No resource"):
        doc.move("compute_pool.nope", "compute_pool.x")


def test_json_round_trip_keeps_everything() -> None:
    doc = make_doc()
    doc.set(
        ResourceState.new(
            "service.s",
            "local",
            None,
            {"x": [1, 2.5, None, True, "é"]},
            status="creating",
            comment="made by hand",
        )
    )
    text = doc.to_json()
    json.loads(text)  # plain JSON any tool can read
    back = StateDocument.from_json(text)
    assert back.to_dict() == doc.to_dict()
    assert back.lineage == doc.lineage and back.serial == doc.serial
    s = back.get("service.s")
    assert s is not None and s.status == "creating" and s.id is None and s.comment == "made by hand"


def test_file_lists_one_resource_per_line_in_natural_order() -> None:
    doc = StateDocument.new()
    for i in (10, 2, 1):
        doc.set(ResourceState.new(f"compute_pool.p[{i}]", "local", str(i)))
    lines = [ln for ln in doc.to_json().splitlines() if '"address"' in ln]
    assert [json.loads(ln.strip().rstrip(","))["index_key"] for ln in lines] == [1, 2, 10]


def test_sensitive_values_are_unwrapped_with_their_paths() -> None:
    rs = ResourceState.new(
        "service.api", "local", "s", {"env": {"TOKEN": Sensitive("s3cret")}, "keys": ["a", Sensitive("b")]}
    )
    assert rs.attributes == {"env": {"TOKEN": "s3cret"}, "keys": ["a", "b"]}
    assert sorted(rs.sensitive_attributes, key=str) == [["env", "TOKEN"], ["keys", 1]]
    marked = rs.marked_attributes()
    assert isinstance(marked["env"]["TOKEN"], Sensitive) and isinstance(marked["keys"][1], Sensitive)
    assert marked["keys"][0] == "a" and rs.attributes["env"]["TOKEN"] == "s3cret"
    doc = StateDocument.new()
    doc.set(rs)
    back = StateDocument.from_json(doc.to_json()).get("service.api")
    assert back is not None and back.sensitive_attributes == rs.sensitive_attributes


@pytest.mark.parametrize("value", [UNKNOWN, Sensitive("x"), object()])
def test_values_that_cannot_be_stored_are_refused(value: Any) -> None:
    doc = StateDocument.new()
    rs = ResourceState.new("service.api", "local", "s")
    rs.attributes = {"bad": value}
    doc.set(rs)
    with pytest.raises(StateError, match="state"):
        doc.to_json()


BROKEN: list[tuple[str, str]] = [
    ('{"format_version": 1, "serial": 3, "lin', "not valid JSON"),
    ("[]", "not a state document"),
    ('{"format_version": 1, "serial": "3", "lineage": "l", "resources": []}', "serial"),
    ('{"format_version": 9, "serial": 3, "lineage": "l", "resources": []}', "newer mlrt"),
    ('{"format_version": 1, "serial": 3, "lineage": "", "resources": []}', "lineage"),
    ('{"format_version": 1, "serial": 3, "lineage": "l", "resources": {}}', "resources"),
    ('{"format_version": 1, "serial": 3, "lineage": "l", "extra": 1}', "unknown field"),
    (
        '{"format_version": 1, "serial": 3, "lineage": "l", "resources": [{"address": "a.b"}]}',
        "lacks required",
    ),
    (
        '{"format_version": 1, "serial": 3, "lineage": "l", "resources": [{"address": "a.b", '
        '"type": "a", "name": "b", "provider": "local", "attributes": []}]}',
        "attributes",
    ),
    (
        '{"format_version": 1, "serial": 3, "lineage": "l", "resources": [{"address": "a.b", '
        '"type": "a", "name": "b", "provider": "local", "colour": 1}]}',
        "unknown field",
    ),
    (
        '{"format_version": 1, "serial": 3, "lineage": "l", "resources": [{"address": "a.b", '
        '"type": "a", "name": "b", "provider": "local"}, {"address": "a.b", "type": "a", "name": "b", '
        '"provider": "local"}]}',
        "twice",
    ),
    ('{"format_version": 1, "serial": 3, "lineage": "l", "outputs": {"o": 1}}', "output"),
]


@pytest.mark.parametrize("text,expected", BROKEN)
def test_broken_documents_raise_a_clear_state_error(text: str, expected: str) -> None:
    with pytest.raises(StateError) as info:
        StateDocument.from_json(text)
    assert expected in info.value.summary + " " + info.value.detail
    assert info.value.detail  # says what to do


def test_copy_is_deep_and_same_content_ignores_serial() -> None:
    doc = make_doc()
    other = doc.copy()
    other.serial = 99
    assert other.same_content(doc)
    rs = other.get("compute_pool.cpu")
    assert rs is not None
    rs.attributes["min_nodes"] = 5
    assert not other.same_content(doc)
    original = doc.get("compute_pool.cpu")
    assert original is not None and original.attributes["min_nodes"] == 1


def test_record_keeps_created_at_and_unwraps_sensitive_values() -> None:
    doc = StateDocument.new()
    first = doc.record("service.api", "local", "s-1", {"a": 1}, status="creating")
    first.created_at = "2020-01-01T00:00:00Z"
    again = doc.record("service.api", "local", "s-1", {"token": Sensitive("t")}, ["compute_pool.c"])
    assert doc.get("service.api") is again and again.status == "ready"
    assert again.created_at == "2020-01-01T00:00:00Z" and again.updated_at != again.created_at
    assert again.attributes == {"token": "t"} and again.sensitive_attributes == [["token"]]
    assert again.dependencies == ["compute_pool.c"]


def test_set_output_marks_sensitive_values() -> None:
    doc = StateDocument.new()
    doc.set_output("url", "http://x")
    doc.set_output("key", Sensitive("k"))
    doc.set_output("nested", {"a": [Sensitive(1)]})
    back = StateDocument.from_json(doc.to_json())
    assert back.outputs["url"].to_dict() == {"value": "http://x", "sensitive": False}
    assert back.outputs["key"].to_dict() == {"value": "k", "sensitive": True}
    assert back.outputs["nested"].sensitive and back.outputs["nested"].value == {"a": [1]}
