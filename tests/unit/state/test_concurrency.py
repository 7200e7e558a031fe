"""50 real processes share one state: lock -> read -> modify -> write -> unlock, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.state import StateDocument
from state.local_backend import LocalBackend

from .conftest import Workers

PROCESSES = 50
WRITES_EACH = 2


@pytest.mark.slow
def test_fifty_concurrent_writers_lose_no_update(project: Path, workers: Workers) -> None:
    started = [workers.start("increment", str(project), str(WRITES_EACH), f"p{n}") for n in range(PROCESSES)]
    b = LocalBackend(project, {})
    while any(w.proc.poll() is None for w in started):
        doc = b.read()  # readers never see a broken file while writers run
        assert doc is None or doc.serial <= PROCESSES * WRITES_EACH
    for w in started:
        assert w.finish() == 0
        assert w.event()["event"] == "done"
    doc = b.read()
    assert doc is not None
    total = PROCESSES * WRITES_EACH
    assert doc.serial == total
    counter = doc.get("network_rule.counter")
    assert counter is not None and counter.attributes["value"] == total
    assert len(doc) == total + 1
    assert {f'network_rule.w["p{n}-{i}"]' for n in range(PROCESSES) for i in range(WRITES_EACH)} <= set(
        doc.addresses()
    )
    backup = StateDocument.from_json(b.backup_path.read_bytes())
    assert backup.serial == total - 1
    assert not b.info_path.exists() and not b.lock_path.exists()
