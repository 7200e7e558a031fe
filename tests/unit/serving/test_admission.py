"""Admission slots shared by an instance's workers, claimed without a cross-process lock."""

from __future__ import annotations

from multiprocessing.synchronize import Event

import pytest

from mlrt_iac.runtime.serving.model import KNOWN_FUNCTIONS
from mlrt_iac.runtime.serving.shared import SharedState, spawn_context


def test_slots_are_shared_by_the_workers_and_given_back() -> None:
    state = SharedState(spawn_context(), 3, KNOWN_FUNCTIONS, max_queue=4)
    assert [state.try_enqueue(w) for w in (0, 1, 2, 0)] == [True] * 4
    assert state.queued() == 4
    assert not state.try_enqueue(1) and not state.try_enqueue(2)  # full, whichever worker asks
    assert state.queued() == 4  # a refused claim leaves nothing behind
    state.dequeue(0)
    assert state.try_enqueue(2) and not state.try_enqueue(0)
    state.dequeue(0, 1)
    state.dequeue(2, 2)
    assert state.queued() == 1
    state.reset_worker(1)  # a dead worker's slots are freed by the supervisor
    assert state.queued() == 0
    state.dequeue(1)  # never below zero
    assert state.queued() == 0


def test_no_queue_admits_nobody() -> None:
    state = SharedState(spawn_context(), 2, KNOWN_FUNCTIONS, max_queue=0)
    assert not state.try_enqueue(0) and not state.try_enqueue(1)
    assert state.queued() == 0


def _claim(states: list[SharedState], worker: int, go: Event, tries: int) -> None:
    go.wait()
    for state in states:
        for _ in range(tries):
            state.try_enqueue(worker)


@pytest.mark.slow
def test_racing_workers_never_hold_more_than_max_queue() -> None:
    """Four processes claim as fast as they can, all at once: what they hold in the end (every
    slot they got, none given back) never exceeds max_queue."""
    ctx = spawn_context()
    limits = (1, 7, 50)
    states = [SharedState(ctx, 4, KNOWN_FUNCTIONS, max_queue=q) for q in limits]
    go = ctx.Event()
    procs = [ctx.Process(target=_claim, args=(states, w, go, 200)) for w in range(4)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    for max_queue, state in zip(limits, states):
        held = state.queued()
        assert 0 < held <= max_queue, (max_queue, held)
        # once the race is over the last free slots can still be taken, and no more
        while state.try_enqueue(0):
            pass
        assert state.queued() == max_queue
