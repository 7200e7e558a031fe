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


def _state_of_many_rules(project: Path, n: int) -> None:
    """A state of `n` rules written through the real backend: more than a pipe's buffer to print."""
    from mlrt_iac.state import ResourceState, StateDocument
    from state.local_backend import LocalBackend

    (project / "main.hcl").write_text(RULES.split("\n\n")[0] + "\n")
    doc = StateDocument.new()
    for i in range(n):
        attrs = {"name": f"r{i}", "mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org"]}
        doc.set(ResourceState.new(f"network_rule.r{i}", "local", f"r{i}", attrs))
    LocalBackend(project, {}).write(doc)


@pytest.mark.slow  # two processes and a 4,000-entry state: seconds, not the fast lane's budget
@pytest.mark.parametrize("args", [("show",), ("state", "list")])
def test_closing_the_pipe_on_state_output_is_not_an_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Issue 14: `mlrt show | head -1` exited 1 silently; `mlrt state list | head -3` printed an
    internal BrokenPipeError in 3 of 6 runs."""
    _state_of_many_rules(tmp_path, 4000)  # 76 KB of addresses: over a pipe's 64 KB
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlrt_iac.cli.main", "-chdir", str(tmp_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Error" not in err and "Traceback" not in err and "Exception ignored" not in err
