"""Temp files left by killed writers are swept (issue 15, Low: `.rN.json.*.tmp` stayed forever),
while a temp file a live writer may still be using is left alone."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from providers.kit import records


def test_stale_temp_files_are_swept_and_fresh_ones_kept(tmp_path: Path) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    stale = folder / ".r01.json.abc123.tmp"
    fresh = folder / ".r02.json.def456.tmp"
    other = folder / "notes.tmp"  # not a hidden temp file of ours
    for p in (stale, fresh, other):
        p.write_text("{")
    old = time.time() - records.STALE_TEMP_AGE_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    records.atomic_write_json(folder / "r03.json", {"ok": True})
    assert not stale.exists()
    assert fresh.exists() and other.exists()
    assert json.loads((folder / "r03.json").read_text()) == {"ok": True}
