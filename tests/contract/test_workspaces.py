"""Workspaces, for every backend that has them: one state and one lock per workspace, `default`
always listed first, `delete_workspace()` leaving nothing behind (the docstring of
`mlrt_iac/state/backend.py` states the contract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.errors import StateError, StateLockedError
from mlrt_iac.state import LockInfo, ResourceState, StateDocument, WorkspaceBackend, load_backend

from .conftest import MakeBackend


def _ws(make: MakeBackend, name: str = "default") -> WorkspaceBackend:
    backend = make(name)
    assert isinstance(backend, WorkspaceBackend) and backend.workspace == name
    return backend


def _doc(tag: str) -> StateDocument:
    doc = StateDocument.new()
    doc.set(ResourceState.new(f"training.{tag}", "test", id=tag, attributes={"name": tag}))
    return doc


def test_each_workspace_has_its_own_state(make: MakeBackend) -> None:
    default, a, b = _ws(make), _ws(make, "a"), _ws(make, "b-2")
    assert default.workspaces() == ["default"]
    default.write(_doc("d"))
    a.write(_doc("a"))
    assert b.read() is None
    assert make().read().addresses() == ["training.d"]  # type: ignore[union-attr]
    assert make("a").read().addresses() == ["training.a"]  # type: ignore[union-attr]
    b.write(StateDocument.new())
    assert default.workspaces() == a.workspaces() == ["default", "a", "b-2"]
    assert default.describe() != a.describe() != b.describe()


def test_locks_are_per_workspace(make: MakeBackend) -> None:
    a1, a2, default = _ws(make, "a"), _ws(make, "a"), _ws(make)
    lock_id = a1.lock(LockInfo(operation="apply", who="one"))
    try:
        default.unlock(default.lock(LockInfo(operation="plan", who="two")))  # not blocked by a
        with pytest.raises(StateLockedError) as caught:
            a2.lock(LockInfo(operation="plan", who="three"))
        assert "one" in caught.value.summary
    finally:
        a1.unlock(lock_id)


def test_delete_workspace_removes_its_state_and_leaves_others(make: MakeBackend) -> None:
    default, a = _ws(make), _ws(make, "a")
    default.write(_doc("d"))
    a.write(_doc("a"))
    lock_id = a.lock(LockInfo(operation="workspace delete"))
    a.delete_workspace()
    a.unlock(lock_id)
    assert default.workspaces() == ["default"]
    assert make("a").read() is None
    assert make().read().addresses() == ["training.d"]  # type: ignore[union-attr]
    again = _ws(make, "a")  # the name can be used again, and its lock is free
    again.unlock(again.lock(LockInfo(operation="plan")))
    again.write(StateDocument.new())
    again.delete_workspace()  # unlocked: the same without a lock
    assert default.workspaces() == ["default"]
    with pytest.raises(StateError, match="Cannot delete the default workspace"):
        default.delete_workspace()


def test_a_backend_without_workspaces_has_only_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlrt_iac.state import backend as backend_module

    with pytest.raises(StateError, match='The workspace name "a/b" is not allowed'):
        load_backend("local", tmp_path, {}, "a/b")

    class Plain:
        def __init__(self, project_dir: object, config: object) -> None:
            self.config = config

    monkeypatch.setattr(backend_module, "discover_backends", lambda: {"plain": Plain})
    assert isinstance(load_backend("plain", tmp_path, {"x": 1}), Plain)
    with pytest.raises(StateError, match='Backend "plain" does not support workspaces'):
        load_backend("plain", tmp_path, {}, "a")
