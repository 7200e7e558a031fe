"""Plan at scale: 1,000 and 10,000 resources on a zero-latency test provider.

Prints seconds for `mlrt plan` (refresh included) cold (no parse cache) and warm, and for a
no-change `mlrt apply`, each as a whole CLI command, in --repeats interleaved rounds (each round
runs every figure of every size once; a cold plan deletes the parse cache first): the best and
the spread (slowest - best) of each figure, and the load average. The state is built directly
(a document and the provider's objects on disk), as if a previous apply had made them. Targets: warm plan
of 10,000 ≤ 3 s; time(10,000) / time(1,000) ≤ 12 (best warm plans).

    python bench/plan_scale.py [--repeats 3] [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import register_test_provider

register_test_provider()

from mlrt_iac.state import StateDocument, discover_backends  # noqa: E402

RULES_PER_EAI = 10


def make_project(n: int) -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"mlrt-bench-plan-{n}-"))
    n_eai = n // (RULES_PER_EAI + 1)
    n_rules = n - n_eai
    files: dict[str, list[str]] = {}
    objects: list[tuple[str, str, dict[str, object], list[str]]] = []
    for i in range(n_rules):
        attrs = {
            "name": f"r{i}",
            "mode": "EGRESS",
            "type": "HOST_PORT",
            "value_list": [f"h{i}.example.com:443"],
            "comment": None,
        }
        files.setdefault(f"rules{i % 10}.hcl", []).append(
            f'network_rule "r{i}" {{\n  mode       = "EGRESS"\n  type       = "HOST_PORT"\n'
            f'  value_list = ["h{i}.example.com:443"]\n}}\n'
        )
        objects.append((f"network_rule.r{i}", "network_rule", attrs, []))
    for j in range(n_eai):
        rules = [f"r{(j * RULES_PER_EAI + k) % n_rules}" for k in range(RULES_PER_EAI)]
        refs = ", ".join(f"network_rule.{r}" for r in rules)
        files.setdefault(f"eai{j % 10}.hcl", []).append(
            f'external_access_integration "e{j}" {{\n  allowed_network_rules = [{refs}]\n}}\n'
        )
        attrs = {
            "name": f"e{j}",
            "allowed_network_rules": rules,
            "enabled": True,
            "allowed_secrets": [],
            "comment": None,
        }
        objects.append(
            (
                f"external_access_integration.e{j}",
                "external_access_integration",
                attrs,
                [f"network_rule.{r}" for r in rules],
            )
        )
    (d / "main.hcl").write_text('mlrt {\n  default_provider = "test"\n}\n')
    for name, blocks in files.items():
        (d / name).write_text("\n".join(blocks))
    backend = discover_backends()["local"](d, {})
    doc = StateDocument.new()
    root = d / ".mlrt" / "test-objects"
    for addr, type_name, attrs, deps in objects:
        doc.set(
            {
                "address": addr,
                "type": type_name,
                "name": addr.split(".")[1],
                "provider": "test",
                "id": attrs["name"],
                "attributes": attrs,
                "dependencies": deps,
                "status": "ready",
            }
        )
        p = root / type_name / f"{attrs['name']}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"id": attrs["name"], "attributes": attrs}))
    backend.write(doc)
    return d


def timed(project: Path, *args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.cli.main", "-chdir", str(project), *args, "-no-color"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 2):
        raise SystemExit(f"mlrt {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    if "No changes" not in proc.stdout and "-detailed-exitcode" not in args:
        raise SystemExit(f"expected no changes for {args}:\n{proc.stdout[-3000:]}")
    return elapsed


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


FIGURES = ("plan_cold", "plan_warm", "apply_no_change")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated resource counts")
    opts = ap.parse_args()
    sizes = [int(n) for n in opts.sizes.split(",")]
    print(f"plan_scale: {opts.repeats} interleaved rounds, {os.cpu_count()} CPUs, {load()} (before)")
    projects = {n: make_project(n) for n in sizes}
    times: dict[tuple[int, str], list[float]] = {(n, f): [] for n in sizes for f in FIGURES}
    try:
        for _ in range(opts.repeats):
            for n, d in projects.items():  # one of each per round: a busy spell slows all alike
                shutil.rmtree(d / ".mlrt" / "cache", ignore_errors=True)  # cold: no parse cache
                times[n, "plan_cold"].append(timed(d, "plan"))
                times[n, "plan_warm"].append(timed(d, "plan"))
                times[n, "apply_no_change"].append(timed(d, "apply", "-auto-approve"))
    finally:
        for d in projects.values():
            shutil.rmtree(d, ignore_errors=True)
    print(f"{'resources':>9}  {'figure':<16}{'best_s':>8}{'spread_s':>9}  (spread = slowest - best)")
    for n in sizes:
        for f in FIGURES:
            ts = times[n, f]
            print(f"{n:>9}  {f:<16}{min(ts):>8.2f}{max(ts) - min(ts):>9.2f}")
    if 1000 in projects and 10000 in projects:
        w1, w10 = min(times[1000, "plan_warm"]), min(times[10000, "plan_warm"])
        print(
            f"ratio best warm(10000)/best warm(1000) = {w10 / w1:.1f} (target <= 12: "
            f"{'met' if w10 / w1 <= 12 else 'NOT met'}); best warm plan of 10000 = {w10:.2f}s "
            f"(target <= 3 s: {'met' if w10 <= 3 else 'NOT met'})"
        )
    print(f"{load()} (after)")


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
