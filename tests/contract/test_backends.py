"""The behaviour every state backend keeps, run over every registered backend.

Like OpenTofu's `statemgr.TestFull`: the same checks for `local` (a temp dir), `kubernetes` (the
test API server) and any backend registered later under `mlrt.backends` (see conftest.py for
how a backend is reached). The contract itself is the docstring of `mlrt_iac/state/backend.py`.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from mlrt_iac.errors import StateError, StateLockedError
from mlrt_iac.state import Backend, LockInfo, ResourceState, StateDocument, discover_backends

from .conftest import BACKENDS, MakeBackend


def _info(operation: str, who: str) -> LockInfo:
    return LockInfo(operation=operation, who=who)


def _doc(n: int, tag: str = "", doc: StateDocument | None = None) -> StateDocument:
    doc = doc if doc is not None else StateDocument.new()
    for i in range(n):
        doc.set(
            ResourceState.new(
                f"training.t{i}", "test", id=f"id-{i}", attributes={"name": f"t{i}", "tag": tag}
            )
        )
    doc.set_output("count", n)
    return doc


def test_the_known_backends_are_registered() -> None:
    # Guards the parametrization: an empty registry would make every test below vanish.
    assert {"local", "kubernetes"} <= set(BACKENDS) == set(discover_backends())


# --- the protocol ----------------------------------------------------------------------------


def test_is_a_backend(make: MakeBackend) -> None:
    backend = make()
    assert isinstance(backend, Backend)
    assert isinstance(backend.defers_fsync, bool)
    assert backend.describe().strip()


# --- reading and writing ---------------------------------------------------------------------


def test_read_before_any_write_is_none(make: MakeBackend) -> None:
    assert make().read() is None


def test_read_returns_what_was_written(make: MakeBackend) -> None:
    writer, reader = make(), make()
    doc = _doc(3, "first")
    writer.write(doc)
    back = reader.read()
    assert back is not None
    assert back.same_content(doc) and back.serial == doc.serial and back.lineage == doc.lineage
    assert back.addresses() == doc.addresses()
    assert back.to_json() == doc.to_json()


def test_empty_state_round_trips_with_its_lineage(make: MakeBackend) -> None:
    backend = make()
    empty = StateDocument.new()
    backend.write(empty)
    back = make().read()
    assert back is not None, "an empty state was written: read() must not say 'never written'"
    assert len(back) == 0 and back.lineage == empty.lineage and back.serial == 1 == empty.serial


def test_serial_grows_by_one_per_write_and_lineage_is_kept(make: MakeBackend) -> None:
    backend = make()
    doc = StateDocument.new()
    lineage = doc.lineage
    for n in range(1, 5):
        _doc(n, f"v{n}", doc)
        # durable=False may skip fsync on backends that defer it, but never atomicity or serial.
        backend.write(doc, durable=n % 2 == 0)
        assert doc.serial == n
        back = make().read()
        assert back is not None and back.serial == n and back.lineage == lineage
        assert back.same_content(doc)
        doc = back  # the next write starts from what was read, as the engine does


def test_write_bumps_the_serial_of_the_document_it_is_given(make: MakeBackend) -> None:
    backend = make()
    doc = _doc(1)
    doc.serial = 41  # e.g. a state pushed or migrated from elsewhere
    backend.write(doc)
    assert doc.serial == 42
    back = backend.read()
    assert back is not None and back.serial == 42


def test_a_reader_never_sees_a_half_written_document(make: MakeBackend) -> None:
    """A writer stores versions of different sizes (the largest over 700 KiB compressed, so a
    backend that splits a document splits them); a reader on another backend object reads all
    the time. Every read is None (before the first write) or exactly one written version."""
    writer, reader = make(), make()
    rng = random.Random(7)
    chunk = [rng.randbytes(170_000).hex() for _ in range(5)]  # hex of random bytes: ~2:1 in gzip
    order = (2, 5, 1, 5)
    versions: dict[int, str] = {}
    for k in set(order):
        doc = StateDocument.new()
        for i in range(k):
            doc.set(
                ResourceState.new(
                    f"training.t{i}", "test", id=f"id-{i}", attributes={"k": k, "pad": chunk[i]}
                )
            )
        versions[k] = doc.to_json()
    seen: list[StateDocument | None] = []
    errors: list[BaseException] = []
    progress = threading.Condition()
    done = threading.Event()

    def read_all_the_time() -> None:
        try:
            while not done.is_set():
                doc = reader.read()
                with progress:
                    seen.append(doc)
                    progress.notify_all()
        except BaseException as exc:  # reported by the main thread
            with progress:
                errors.append(exc)
                progress.notify_all()

    thread = threading.Thread(target=read_all_the_time, daemon=True)
    thread.start()
    lineage = StateDocument.new().lineage
    try:
        for serial, k in enumerate(order, start=1):
            doc = StateDocument.from_json(versions[k])
            doc.lineage, doc.serial = lineage, serial - 1
            writer.write(doc)
            # Before the next write, wait (no sleep) until a read ends after this write, so a
            # read overlaps at most one write and a reader that retries can finish.
            with progress:
                after = len(seen)
                assert progress.wait_for(lambda after=after: errors or len(seen) > after, timeout=60)
            assert not errors, errors
    finally:
        done.set()
        thread.join(60)
    assert not errors, errors
    assert any(d is not None for d in seen)
    for doc in seen:
        if doc is None:
            continue
        assert doc.lineage == lineage and 1 <= doc.serial <= len(order)
        ks = {r.attributes["k"] for r in doc}
        assert len(ks) == 1, f"a mix of versions {sorted(ks)}"
        (k,) = ks
        assert k == order[doc.serial - 1], f"serial {doc.serial} read with version {k}"
        assert len(doc) == k and doc.same_content(StateDocument.from_json(versions[k]))


# --- locking ---------------------------------------------------------------------------------


def test_second_lock_fails_at_once_naming_the_holder(make: MakeBackend) -> None:
    a, b = make(), make()
    held = a.lock(_info("apply", "alice@ci"))
    try:
        start = time.monotonic()
        with pytest.raises(StateLockedError) as err:
            b.lock(_info("plan", "bob@laptop"))  # timeout 0: no waiting
        assert time.monotonic() - start < 5.0
        assert "alice@ci" in err.value.summary and held in err.value.summary
        assert err.value.info["id"] == held and err.value.info["operation"] == "apply"
        assert err.value.info["who"] == "alice@ci"
    finally:
        a.unlock(held)


def test_lock_is_exclusive_within_one_backend_object_too(make: MakeBackend) -> None:
    a = make()
    held = a.lock(_info("apply", "alice@ci"))
    try:
        with pytest.raises(StateLockedError):
            a.lock(_info("plan", "alice@ci"))
    finally:
        a.unlock(held)


def test_lock_with_timeout_waits_then_fails(make: MakeBackend) -> None:
    a, b = make(), make()
    held = a.lock(_info("apply", "alice@ci"))
    try:
        start = time.monotonic()
        with pytest.raises(StateLockedError) as err:
            b.lock(_info("plan", "bob@laptop"), timeout=0.5)
        elapsed = time.monotonic() - start
        assert elapsed >= 0.45, f"gave up after {elapsed:.2f}s instead of waiting 0.5s"
        assert elapsed < 15, elapsed
        assert held in err.value.summary
    finally:
        a.unlock(held)


def test_lock_with_timeout_gets_the_lock_once_released(make: MakeBackend) -> None:
    a, b = make(), make()
    held = a.lock(_info("apply", "alice@ci"))
    got: dict[str, Any] = {}

    def wait_for_it() -> None:
        try:
            got["id"] = b.lock(_info("plan", "bob@laptop"), timeout=60)
        except BaseException as exc:
            got["error"] = exc

    waiter = threading.Thread(target=wait_for_it, daemon=True)
    waiter.start()
    try:
        # While alice holds the lock, bob cannot have it (a bounded check of a negative).
        waiter.join(0.3)
        assert waiter.is_alive(), f"bob did not wait for the lock: {got}"
    finally:
        a.unlock(held)
    waiter.join(60)
    assert not waiter.is_alive() and "id" in got, got
    b.unlock(got["id"])
    c = make()
    c.unlock(c.lock(_info("plan", "carol@ci")))  # and bob's unlock released it


def test_unlock_releases_the_lock(make: MakeBackend) -> None:
    a, b = make(), make()
    a.unlock(a.lock(_info("apply", "alice@ci")))
    again = b.lock(_info("plan", "bob@laptop"))
    b.unlock(again)


def test_force_unlock_with_a_wrong_id_is_refused(make: MakeBackend) -> None:
    a, b = make(), make()
    held = a.lock(_info("apply", "alice@ci"))
    try:
        with pytest.raises(StateError) as err:
            b.force_unlock("not-the-lock-id")
        assert held in err.value.summary + err.value.detail, "the refusal names the holder's id"
        with pytest.raises(StateLockedError):  # and the lock is still held
            b.lock(_info("plan", "bob@laptop"))
    finally:
        a.unlock(held)


def test_force_unlock_with_the_holders_id_frees_the_lock(make: MakeBackend) -> None:
    a, b = make(), make()
    held = a.lock(_info("apply", "stuck@ci"))  # a run that never unlocks
    b.force_unlock(held)
    mine = b.lock(_info("apply", "bob@laptop"))
    try:
        with pytest.raises(StateLockedError) as err:
            make().lock(_info("plan", "carol@ci"))
        assert mine in err.value.summary  # the new holder is named, not the removed one
        a.unlock(held)  # the old holder's late unlock leaves the new holder's lock alone
        with pytest.raises(StateLockedError):
            make().lock(_info("plan", "carol@ci"))
    finally:
        b.unlock(mine)


def test_the_lock_does_not_block_reads_and_writes_of_its_holder(make: MakeBackend) -> None:
    a = make()
    held = a.lock(_info("apply", "alice@ci"))
    try:
        doc = _doc(2)
        a.write(doc)
        back = a.read()
        assert back is not None and back.same_content(doc)
    finally:
        a.unlock(held)


# --- a previous version (backends that keep one) ----------------------------------------------


def _backup_of(backend: Backend) -> StateDocument | None:
    from state.local_backend import LocalBackend

    assert isinstance(backend, LocalBackend)
    try:
        return StateDocument.from_json(backend.backup_path.read_bytes())
    except FileNotFoundError:
        return None


KEEPS_BACKUP = {"local": _backup_of}


@pytest.mark.parametrize("make", sorted(KEEPS_BACKUP), indirect=True)
def test_backup_holds_the_previous_version(make: MakeBackend, request: pytest.FixtureRequest) -> None:
    backup = KEEPS_BACKUP[request.node.callspec.params["make"]]
    backend = make()
    first = _doc(1, "first")
    backend.write(first)
    assert backup(backend) is None  # nothing came before the first write
    second = _doc(2, "second", StateDocument.from_json(first.to_json()))
    backend.write(second)
    prev = backup(backend)
    assert prev is not None and prev.serial == 1 and prev.same_content(first)
    third = _doc(3, "third", StateDocument.from_json(second.to_json()))
    backend.write(third)
    prev = backup(backend)
    assert prev is not None and prev.serial == 2 and prev.same_content(second)
    current = backend.read()
    assert current is not None and current.serial == 3 and current.same_content(third)
