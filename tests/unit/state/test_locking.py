"""State locking between real processes: contention, waiting, stale locks, force-unlock."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mlrt_iac.errors import StateError, StateLockedError
from mlrt_iac.state import LockInfo
from state.local_backend import LocalBackend, process_alive

from .conftest import Workers


def test_second_locker_fails_at_once_naming_the_holder(project: Path, workers: Workers) -> None:
    holder = workers.start("hold", str(project), "apply")
    locked = holder.event()
    assert locked["event"] == "locked"
    second = workers.start("try-lock", str(project), "0")
    result = second.event()
    assert result["event"] == "refused"
    assert result["elapsed"] < 1.0
    summary = result["summary"]
    assert "apply" in summary and f"pid {locked['pid']}" in summary and locked["lock_id"] in summary
    assert "@" in summary  # who: user@host
    assert "force-unlock " + locked["lock_id"] in result["detail"]
    assert result["info"]["id"] == locked["lock_id"] and result["info"]["operation"] == "apply"
    # In this process too, and the holder is undisturbed.
    with pytest.raises(StateLockedError) as info:
        LocalBackend(project, {}).lock(LockInfo("plan"))
    assert info.value.info["pid"] == locked["pid"]
    holder.send()
    assert holder.event()["event"] == "unlocked"


def test_with_a_timeout_the_second_waits_and_then_gets_it(project: Path, workers: Workers) -> None:
    holder = workers.start("hold", str(project))
    assert holder.event()["event"] == "locked"
    waiter = workers.start("try-lock", str(project), "60", "probe")
    assert waiter.event()["event"] == "busy"  # it saw the lock taken, then waits up to 60 s
    holder.send()
    assert holder.event()["event"] == "unlocked"
    result = waiter.event()
    assert result["event"] == "acquired", result
    assert result["elapsed"] < 60


def test_a_timeout_that_expires_reports_the_holder(project: Path, workers: Workers) -> None:
    holder = workers.start("hold", str(project), "destroy")
    assert holder.event()["event"] == "locked"
    start = time.monotonic()
    with pytest.raises(StateLockedError, match="destroy"):
        LocalBackend(project, {}).lock(LockInfo("plan"), timeout=0.3)
    assert time.monotonic() - start >= 0.3


def test_two_backends_in_one_process_exclude_each_other(project: Path) -> None:
    a, b = LocalBackend(project, {}), LocalBackend(project, {})
    lock_id = a.lock(LockInfo("apply"))
    with pytest.raises(StateLockedError):
        b.lock(LockInfo("plan"))
    a.unlock(lock_id)
    b.unlock(b.lock(LockInfo("plan")))
    assert not a.lock_path.exists() and not a.info_path.exists()  # unlock leaves nothing behind


def test_lock_left_by_a_killed_holder_is_detected_as_stale(project: Path, workers: Workers) -> None:
    holder = workers.start("hold", str(project), "apply")
    locked = holder.event()
    holder.kill()
    b = LocalBackend(project, {})
    assert not process_alive(locked["pid"])
    left = b.read_lock_info()
    assert left is not None and left.id == locked["lock_id"]  # the info file survived the crash
    assert not b.lock_holder_running()
    lock_id = b.lock(LockInfo("apply"))
    assert b.stale_lock is not None
    assert b.stale_lock.id == locked["lock_id"] and b.stale_lock.pid == locked["pid"]
    mine = b.read_lock_info()
    assert mine is not None and mine.id == lock_id
    b.unlock(lock_id)


def test_lock_kept_by_an_orphaned_child_is_reported_stale_and_force_unlocked(
    project: Path, workers: Workers
) -> None:
    holder = workers.start("fork-hold", str(project))
    locked = holder.event()
    child = int(locked["child"])
    try:
        holder.kill()  # the parent dies; the forked child still holds the flock
        b = LocalBackend(project, {})
        with pytest.raises(StateLockedError) as info:
            b.lock(LockInfo("apply"))
        assert "looks stale" in info.value.detail and str(locked["pid"]) in info.value.detail
        with pytest.raises(StateError) as wrong:
            b.force_unlock("not-the-id")
        assert locked["lock_id"] in wrong.value.detail
        b.force_unlock(locked["lock_id"])
        lock_id = b.lock(LockInfo("apply"))  # succeeds although the child still runs
        assert process_alive(child)
        b.unlock(lock_id)
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_force_unlock_of_a_live_holder_then_its_unlock_harms_nobody(project: Path, workers: Workers) -> None:
    holder = workers.start("hold", str(project))
    locked = holder.event()
    b = LocalBackend(project, {})
    with pytest.raises(StateError, match="does not match"):
        b.force_unlock("1234")
    b.force_unlock(locked["lock_id"])
    assert b.read_lock_info() is None
    mine = b.lock(LockInfo("apply"))
    holder.send()  # the old holder unlocks late: our lock must survive
    assert holder.event()["event"] == "unlocked"
    info = b.read_lock_info()
    assert info is not None and info.id == mine
    with pytest.raises(StateLockedError):
        LocalBackend(project, {}).lock(LockInfo("plan"))
    b.unlock(mine)


def test_unlock_and_force_unlock_refuse_what_is_not_there(project: Path) -> None:
    b = LocalBackend(project, {})
    with pytest.raises(StateError, match="not held by this run"):
        b.unlock("nope")
    with pytest.raises(StateError, match="not locked"):
        b.force_unlock("nope")
    lock_id = b.lock(LockInfo("apply"))
    b.force_unlock(lock_id)  # own lock: released
    b.unlock(b.lock(LockInfo("plan")))
