"""A reader that stops early (`mlrt ... | head -1`) ends mlrt quietly with 0 (issue 14: an internal
BrokenPipeError error in 3 of 6 runs, or a silent exit 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RULES = "\n".join(
    f'network_rule "r{i}" {{\n  mode       = "EGRESS"\n  type       = "HOST_PORT"\n'
    f'  value_list = ["pypi.org"]\n}}\n'
    for i in range(1000)
)


@pytest.mark.parametrize("args", [("graph",), ("plan", "-no-color"), ("plan", "-json")])
def test_closing_the_pipe_after_one_line_is_not_an_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "main.hcl").write_text(RULES)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlrt_iac.cli.main", "-chdir", str(tmp_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first  # it wrote, then the reader went away with most of the output unread
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Error" not in err and "Traceback" not in err and "Exception ignored" not in err
