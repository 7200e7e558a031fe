"""Shared by the engine benchmarks: registers the test provider through a real entry point."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def register_test_provider() -> Path:
    site = Path(tempfile.mkdtemp(prefix="mlrt-bench-site-"))
    dist = site / "mlrt_testprovider-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlrt-testprovider\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text(
        "[mlrt.providers]\ntest = tests.support.testprovider:TestProvider\n"
    )
    for p in (str(site), str(REPO)):
        if p not in sys.path:
            sys.path.insert(0, p)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])
    importlib.invalidate_caches()
    return site
