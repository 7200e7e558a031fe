"""Running the real `mlrt` CLI in a subprocess, as a user or a CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

MLRT = [sys.executable, "-m", "mlrt_iac.cli.main"]


def run_mlrt(
    project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300, check: bool = False
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("NO_COLOR", "1")
    proc = subprocess.run(
        MLRT + ["-chdir", str(project), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"mlrt {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def spawn_mlrt(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("NO_COLOR", "1")
    return subprocess.Popen(
        MLRT + ["-chdir", str(project), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def state_file(project: Path) -> Path:
    return project / ".mlrt" / "state" / "mlrt.state.json"


def read_state(project: Path) -> dict[str, Any]:
    return json.loads(state_file(project).read_text())


def provider_objects(project: Path, type_name: str = "network_rule") -> set[str]:
    d = project / ".mlrt" / "test-objects" / type_name
    return {p.stem for p in d.glob("*.json")} if d.exists() else set()


def rules_config(n: int, chain: bool = False, extra: str = "") -> str:
    blocks = ['mlrt {\n  default_provider = "test"\n}\n', 'provider "test" {}\n']
    for i in range(1, n + 1):
        dep = f"\n  depends_on = [network_rule.r{i - 1:02d}]" if chain and i > 1 else ""
        blocks.append(
            f'network_rule "r{i:02d}" {{\n  mode       = "EGRESS"\n  type       = "HOST_PORT"\n'
            f'  value_list = ["host{i}.example.com:443"]{dep}\n}}\n'
        )
    return "\n".join(blocks) + extra


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False
