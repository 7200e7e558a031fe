"""Log files as `mlrt logs` reads them: per source, filtered by since/tail, then followed."""

from __future__ import annotations

import os
import queue
import threading
from datetime import datetime
from pathlib import Path

from mlrt_iac.provider import LogLine, LogQuery, ProviderContext
from providers.kit.logs import file_logs, read_source

T0 = 1_790_000_000.0  # a fixed "now"


def _ctx(tmp_path: Path) -> ProviderContext:
    return ProviderContext(project_dir=tmp_path, data_dir=tmp_path / ".mlrt")


def test_tail_keeps_the_last_lines_and_a_partial_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo\nthree\nhalf a li")
    lines, end = read_source("a", path, LogQuery(tail=2))
    assert [line.text for line in lines] == ["two", "three"]
    assert end == len(b"one\ntwo\nthree\n")


def test_since_uses_the_lines_own_times(tmp_path: Path) -> None:
    path = tmp_path / "serve.log"
    path.write_text(
        "2020-01-01 10:00:00,001 INFO old\n"
        "  a continuation of the old line\n"
        "2020-01-01 10:30:00,001 INFO new\n"
        "  a continuation of the new line\n"
    )
    since = path.stat().st_mtime  # later than both: the file's own mtime is not what counts here
    assert read_source("s", path, LogQuery(since=since))[0] == []
    cut = datetime(2020, 1, 1, 10, 15).timestamp()
    lines, _ = read_source("s", path, LogQuery(since=cut))
    assert [line.text for line in lines] == [
        "2020-01-01 10:30:00,001 INFO new",
        "  a continuation of the new line",
    ]


def test_since_leaves_out_an_undated_file_last_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "worker-0.log"
    path.write_text("[0] train-logloss:0.5\n")
    os.utime(path, (T0 - 3600, T0 - 3600))
    assert read_source("rank 0", path, LogQuery(since=T0 - 60))[0] == []
    assert len(read_source("rank 0", path, LogQuery(since=T0 - 7200))[0]) == 1


def test_follow_reads_new_lines_and_new_files_until_the_workload_ends(tmp_path: Path) -> None:
    first = tmp_path / "instance-1-0.log"
    first.write_text("ready\n")
    sources = [("instance 0", first)]
    running = threading.Event()
    running.set()
    seen: queue.Queue[LogLine] = queue.Queue()
    ctx = _ctx(tmp_path)

    def consume() -> None:
        for line in file_logs(ctx, lambda: list(sources), LogQuery(follow=True), running.is_set):
            seen.put(line)
        seen.put(LogLine("", "<end>"))

    reader = threading.Thread(target=consume)
    reader.start()
    try:
        assert seen.get(timeout=10) == LogLine("instance 0", "ready")
        with first.open("a") as f:
            f.write("request 1\nhalf")
        assert seen.get(timeout=10) == LogLine("instance 0", "request 1")
        with first.open("a") as f:
            f.write(" done\n")
        assert seen.get(timeout=10) == LogLine("instance 0", "half done")
        second = tmp_path / "instance-1-1.log"
        second.write_text("second instance up\n")
        sources.append(("instance 1", second))
        assert seen.get(timeout=10) == LogLine("instance 1", "second instance up")
        with second.open("a") as f:
            f.write("last words\n")
    finally:
        running.clear()
        reader.join(10)
    rest = []
    while not seen.empty():
        rest.append(seen.get())
    assert rest == [LogLine("instance 1", "last words"), LogLine("", "<end>")]


def test_follow_ends_on_cancel(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("x\n")
    ctx = _ctx(tmp_path)
    ctx.cancel.set()
    got = list(file_logs(ctx, lambda: [("a", path)], LogQuery(follow=True), lambda: True))
    assert got == [LogLine("a", "x")]
