"""`mkdocs build --strict` (warnings are errors: a broken link, a page missing from the nav, an
include of a missing file) succeeds and holds the generated reference. Slow (about 3-5 s); CI also
runs it as its own step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_docs_build_strict(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr
    page = (site / "reference" / "training" / "index.html").read_text()
    assert "input_fingerprint" in page and "change on kubernetes" in page
    guide = (site / "runtime" / "index.html").read_text()
    assert "def train()" in guide and "include:" not in guide
    assert not (ROOT / "site").exists()
