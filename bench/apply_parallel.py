"""Apply parallelism: 500 independent creates of 50 ms at -parallelism 10, and a chain of 50.

Baseline: the ideal wall time (500 × 50 ms / 10 = 2.5 s; 50 × 50 ms = 2.5 s). Target ≤ 1.2 ×.
Prints the apply walk alone (engine, in-process) and the whole `mlrt apply` command (process
start-up, load, plan, apply, state writes) for context.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import register_test_provider

register_test_provider()

from mlrt_iac.apply.engine import ApplyOptions, apply_plan  # noqa: E402
from mlrt_iac.plan.planner import PlanOptions, make_plan  # noqa: E402
from mlrt_iac.plan.project import open_project  # noqa: E402
from mlrt_iac.state import StateDocument, discover_backends  # noqa: E402

DELAY = 0.05


def config(n: int, chain: bool) -> str:
    out = ['mlrt {\n  default_provider = "test"\n}\n']
    for i in range(n):
        dep = f"\n  depends_on = [network_rule.r{i - 1}]" if chain and i else ""
        out.append(
            f'network_rule "r{i}" {{\n  mode = "EGRESS"\n  type = "HOST_PORT"\n'
            f'  value_list = ["h{i}.example.com:443"]{dep}\n}}\n'
        )
    return "\n".join(out)


def run(n: int, chain: bool) -> tuple[float, float, int]:
    d = Path(tempfile.mkdtemp(prefix="mlrt-bench-apply-"))
    (d / "main.hcl").write_text(config(n, chain))
    os.environ["MLRT_TEST_PROVIDER"] = json.dumps({"delay": DELAY})
    project = open_project(d)
    backend = discover_backends()["local"](d, {})
    doc = StateDocument.new()
    plan, diags = make_plan(project, doc, PlanOptions(parallelism=10))
    assert not diags.has_errors, diags
    t0 = time.perf_counter()
    res = apply_plan(project, plan, backend, doc, ApplyOptions(parallelism=10))
    walk = time.perf_counter() - t0
    assert not res.errors, res.errors
    # The whole command, from a fresh project.
    d2 = Path(tempfile.mkdtemp(prefix="mlrt-bench-apply-"))
    (d2 / "main.hcl").write_text(config(n, chain))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlrt_iac.cli.main",
            "-chdir",
            str(d2),
            "apply",
            "-auto-approve",
            "-parallelism",
            "10",
            "-no-color",
        ],
        capture_output=True,
        text=True,
    )
    whole = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    return walk, whole, res.writes


def main() -> None:
    for label, n, chain, ideal in (
        ("independent", 500, False, 500 * DELAY / 10),
        ("chain", 50, True, 50 * DELAY),
    ):
        walk, whole, writes = run(n, chain)
        print(
            f"{label:<12} resources={n:<4} parallelism=10 create=50ms ideal={ideal:.2f}s "
            f"apply_walk={walk:.2f}s ({walk / ideal:.2f}x ideal, target <= 1.20x) "
            f"state_writes={writes} whole_command={whole:.2f}s"
        )


if __name__ == "__main__":
    main()
