"""Benchmark: `mlrt validate` path (load + evaluate [+ model validation]) vs raw `hcl2.loads`.

Generates 500 and 5,000 resource blocks (pools, rules, EAIs referencing rules, trainings referencing
pools with dataset/scaling blocks, services referencing trainings' model_uri) across 10 files and
prints one row per size. Targets (issue 2): cold <= 1.3x hcl2.loads at 5,000 blocks; per-block
time at 5,000 <= 1.5x at 500; warm (parse cache hit) <= 0.2x cold.

Run: python bench/parse_scale.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import hcl2

FILES = 10


def block(i: int) -> str:
    k = i % 5
    if k == 0:
        return (
            f'compute_pool "p{i}" {{\n  instance_family = "CPU_X64_S"\n  min_nodes = 1\n  max_nodes = {2 + i % 3}\n'
            f'  labels = {{ team = "t{i % 7}", idx = "{i}" }}\n}}\n'
        )
    if k == 1:
        return (
            f'network_rule "r{i}" {{\n  mode = "EGRESS"\n  type = "HOST_PORT"\n'
            f'  value_list = ["pypi.org:443", "*.example.com:{400 + i % 100}"]\n  comment = "rule ${{var.env}}"\n}}\n'
        )
    if k == 2:
        return f'external_access_integration "e{i}" {{\n  allowed_network_rules = [network_rule.r{i - 1}]\n  enabled = true\n}}\n'
    if k == 3:
        return (
            f'training "t{i}" {{\n  compute_pool = compute_pool.p{i - 3}\n  framework = "xgboost"\n'
            f"  num_boost_round = {10 + i % 50}\n  params = {{ max_depth = 6, eta = 0.3 }}\n"
            f'  dataset "train" {{\n    source = "data/train.parquet"\n    input_cols = ["a", "b", "c"]\n'
            f'    label_col = "y"\n  }}\n  scaling {{\n    num_nodes = 1\n    num_workers_per_node = 2\n  }}\n'
            f"  external_access_integrations = [external_access_integration.e{i - 1}]\n}}\n"
        )
    return (
        f'service "s{i}" {{\n  compute_pool = compute_pool.p{i - 4}\n  model = training.t{i - 1}.model_uri\n'
        f'  max_instances = 1\n  num_workers = 2\n  comment = "serves ${{training.t{i - 1}.framework}} model"\n}}\n'
    )


def generate(d: Path, n: int) -> list[str]:
    per = n // FILES
    texts = []
    for f in range(FILES):
        text = "".join(block(i) for i in range(f * per, (f + 1) * per))
        if f == 0:
            text = 'variable "env" {\n  type = string\n  default = "dev"\n}\n' + text
        (d / f"part{f:02d}.hcl").write_text(text)
        texts.append(text)
    return texts


def validate(d: Path) -> int:
    """Exactly what `mlrt validate` runs, without the process start: load (parse cache under
    .mlrt/), variables, evaluate, schema validation, cross-block and provider checks."""
    from mlrt_iac.plan.project import open_project, validate_project

    project = open_project(d, environ={})
    ev, _, diags = validate_project(project)
    errors = [x for x in diags if x.severity == "error"]
    if errors:
        raise SystemExit(f"unexpected diagnostics: {errors[:3]}")
    return len(ev.instances)


def main() -> None:
    import gc

    gc.disable()  # as the `mlrt` command does (mlrt_iac/cli/main.py)
    hcl2.parses_to_tree("a = 1\n")  # build the grammar once, outside the timings
    import mlrt_iac.plan.project  # noqa: F401  (imports and schema building, outside the timings)

    rows = []
    for n in (500, 5000):
        tmp = Path(tempfile.mkdtemp(prefix="mlrt-bench-"))
        try:
            texts = generate(tmp, n)
            t0 = time.perf_counter()
            for t in texts:
                hcl2.loads(t)
            base = time.perf_counter() - t0
            t0 = time.perf_counter()
            count = validate(tmp)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            validate(tmp)
            warm = time.perf_counter() - t0
            assert count == n, count
            rows.append((n, base, cold, warm))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    per_500 = rows[0][2] / rows[0][0]
    for n, base, cold, warm in rows:
        ratio = (cold / n) / per_500
        print(
            f"blocks={n} hcl2.loads={base:.2f}s validate_cold={cold:.2f}s ({cold / base:.2f}x) "
            f"validate_warm={warm:.2f}s ({warm / cold:.2f}x of cold) per_block_ratio={ratio:.2f}"
        )
    n, base, cold, warm = rows[-1]
    print(
        f"targets at {n}: cold<=1.3x loads: {cold / base <= 1.3}; per_block_ratio<=1.5: "
        f"{(cold / n) / per_500 <= 1.5}; warm<=0.2x cold: {warm / cold <= 0.2}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
