"""Run logs are kept once and capped (issue 15, Low: stored twice, with no cap)."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.runtime.supervisor import WorkerOutput


def test_a_worker_log_stops_growing_at_its_cap_but_keeps_the_tail(tmp_path: Path) -> None:
    out = WorkerOutput(0, tmp_path / "worker-0.log", max_bytes=1000)
    for i in range(500):
        out.write(f"line {i:04d} " + "x" * 20)
    out.file.close()
    text = (tmp_path / "worker-0.log").read_text()
    assert len(text.encode()) <= 1000 + 100  # the cap plus one notice line
    assert text.rstrip().endswith("later lines are not kept]")
    assert list(out.tail)[-1].startswith("line 0499")  # the error message still gets the tail
