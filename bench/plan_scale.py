"""Plan at scale: 1,000 and 10,000 resources on a zero-latency test provider.

Prints seconds for `mlrt plan` (refresh included) cold (no parse cache) and warm, and for a
no-change `mlrt apply`, each as a whole CLI command. The state is built directly (a document
and the provider's objects on disk), as if a previous apply had made them. Targets: warm plan
of 10,000 ≤ 3 s; time(10,000) / time(1,000) ≤ 12.
"""

from __future__ import annotations

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


def main() -> None:
    rows = {}
    for n in (1000, 10000):
        d = make_project(n)
        cold = timed(d, "plan")
        warm = timed(d, "plan")
        apply_ = timed(d, "apply", "-auto-approve")
        rows[n] = warm
        print(f"resources={n:<6} plan_cold={cold:.2f}s plan_warm={warm:.2f}s apply_no_change={apply_:.2f}s")
        shutil.rmtree(d, ignore_errors=True)
    print(
        f"ratio warm(10000)/warm(1000) = {rows[10000] / rows[1000]:.1f} (target <= 12); "
        f"warm plan of 10000 = {rows[10000]:.2f}s (target <= 3 s)"
    )


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
