"""How fast `mlrt` starts: wall seconds of short commands against `python -c pass`.

Every `mlrt` command pays for the interpreter and for the imports before it does any work; a
`--help` or `version` should cost little more than the interpreter itself.
Baseline / target on the 2-core dev machine: `mlrt --help`, `mlrt version` and `mlrt -version` in
at most 0.15 s; `mlrt validate` of examples/quickstart with a warm parse cache in at most 0.35 s.
The commands run interleaved (one of each per round) so that a busy machine slows them alike;
rows give the best and the spread (slowest - best) of the rounds, with the load average.

Byte-code: an installed mlrt has its .pyc files (pip compiles them at install), so by default
(`--bytecode cached`) the commands run with a byte-code cache in a temp dir
(PYTHONPYCACHEPREFIX; nothing is written into the checkout) that the warm-up round fills, even
where the environment sets PYTHONDONTWRITEBYTECODE. `--bytecode none` sets
PYTHONDONTWRITEBYTECODE=1 instead: every engine module is compiled from source on every run
(a checkout run that way; installed libraries still use their own .pyc).
Run: python bench/cli_start.py [--repeats 7] [--bytecode cached|none]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What the installed `mlrt` console script runs, with this checkout first on the path (an
# installed copy elsewhere must not be what is measured).
MLRT = [sys.executable, "-c", "import sys; from mlrt_iac.cli.main import main; sys.exit(main())"]


def cases(project: Path) -> list[tuple[str, list[str], float | None]]:
    """(label, argv, target seconds or None for the baseline)."""
    return [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("mlrt --help", [*MLRT, "--help"], 0.15),
        ("mlrt -version", [*MLRT, "-version"], 0.15),
        ("mlrt version", [*MLRT, "version"], 0.15),
        ("mlrt validate (warm cache)", [*MLRT, "-chdir", str(project), "validate", "-no-color"], 0.35),
    ]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--bytecode", choices=("cached", "none"), default="cached")
    opts = ap.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["NO_COLOR"] = "1"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mlrt-bench-cli-") as tmp:
        if opts.bytecode == "cached":
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPYCACHEPREFIX", None)
        project = Path(tmp) / "quickstart"
        shutil.copytree(REPO / "examples" / "quickstart", project, ignore=shutil.ignore_patterns(".mlrt"))
        todo = cases(project)
        # Warm-up round: fills the parse cache, the OS page cache and (cached) the byte-code cache.
        for _, argv, _ in todo:
            run_once(argv, env)
        times: dict[str, list[float]] = {label: [] for label, _, _ in todo}
        codes: dict[str, set[int]] = {label: set() for label, _, _ in todo}
        for _ in range(opts.repeats):
            for label, argv, _ in todo:
                t, rc = run_once(argv, env)
                times[label].append(t)
                codes[label].add(rc)
    base = min(times[todo[0][0]])
    print(
        f"cli_start: {opts.repeats} interleaved rounds, byte-code {opts.bytecode}, python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load_before[0]:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    print(f"{'command':<28} {'best_s':>7} {'spread_s':>8} {'x_base':>6}  exit  target")
    for label, _, target in todo:
        best, spread = min(times[label]), max(times[label]) - min(times[label])
        exits = ",".join(str(c) for c in sorted(codes[label]))
        if target is None:
            verdict = "baseline"
        else:
            verdict = f"<= {target:.2f} s ({'met' if best <= target else 'NOT met'})"
        print(f"{label:<28} {best:7.3f} {spread:8.3f} {best / base:6.1f}  {exits:>4}  {verdict}")


if __name__ == "__main__":
    main()
