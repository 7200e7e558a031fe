"""Benchmark: a service image with XGBoost and mlrt's runtime, built and pushed to a real
registry (Debian's docker-registry on 127.0.0.1, started here with htpasswd auth), on a tiny base
image of its own. Rows:

  cold        empty layer cache, fresh repository: pip runs, every layer packed and uploaded
  source      warm cache, one source file changed: only the source layer (+ config, manifest)
  unchanged   warm cache, nothing changed: no pip, 0 bytes pushed
  cold again  another empty cache into another fresh repository: same digest as `cold`?
  plan        input_parts (the plan-time digest) warm, best of 5

Targets (issue 10): unchanged -> 0 bytes pushed and no pip run; source -> only that layer
pushed, <= 3 s; the two cold digests identical. pip downloads the target-platform wheels once;
later runs find them in pip's HTTP cache (`--pip-cold` points pip at an empty cache instead).

    python bench/image_build.py [--framework xgboost] [--pip-cold]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlrt_iac.images import (  # noqa: E402
    BuiltImage,
    ImageInputs,
    RegistryAuth,
    RegistryTarget,
    build_image,
    input_parts,
)
from tests.support.oci_registry import running_registry, skopeo_copy, write_base_layout  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--framework", default="xgboost")
    parser.add_argument("--pip-cold", action="store_true", help="pip with an empty HTTP cache")
    parser.add_argument("--verbose", action="store_true", help="print the build's progress lines")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mlrt-bench-image-"))
    if args.pip_cold:
        os.environ["PIP_CACHE_DIR"] = str(work / "pip-cache")
    try:
        with running_registry(work / "registry") as server:
            write_base_layout(work / "base", "base")
            skopeo_copy(f"oci:{work / 'base'}:base", f"docker://{server.host}/base/python:3.11", server)
            auth = RegistryAuth(server.user, server.password)
            src = work / "project"
            src.mkdir()
            (src / "serve.py").write_text("def predict(rows):\n    return rows\n")
            (src / "features.py").write_text("COLUMNS = ['a', 'b']\n")
            model = work / "model"
            model.mkdir()
            (model / "model.json").write_text('{"learner": {}}\n' * 1000)
            inputs = ImageInputs(
                base=f"{server.host}/base/python:3.11",
                framework=args.framework,
                source_dir=src,
                model_dir=model,
                entrypoint=("python", "-m", "mlrt_iac.runtime.serving"),
            )
            print(
                f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores; base {inputs.base};"
                f" framework {args.framework}; pip cache {'empty' if args.pip_cold else 'as is'}"
            )
            print(f"{'case':<11} {'seconds':>8} {'pushed':>11} {'layers reused':>14} {'pip ran':>8}  digest")

            def row(case: str, repo: str, cache: Path) -> tuple[BuiltImage, float]:
                target = RegistryTarget(f"{server.host}/{repo}", "v1", insecure=True, auth=auth)
                started = time.perf_counter()
                built = build_image(
                    inputs,
                    target,
                    cache_dir=cache,
                    progress=(lambda s: print("   ", s)) if args.verbose else (lambda s: None),
                )
                seconds = time.perf_counter() - started
                reused = sum(layer.reused for layer in built.layers)
                pushed = (
                    f"{built.bytes_pushed / 1e6:.1f} MB"
                    if built.bytes_pushed >= 1e5
                    else f"{built.bytes_pushed} B"
                )
                names = ",".join(layer.name for layer in built.layers if not layer.reused) or "-"
                print(
                    f"{case:<11} {seconds:>8.2f} {pushed:>11} {reused:>6}/{len(built.layers):<7} {str(built.pip_ran):>8}"
                    f"  {built.digest[:19]}  uploaded: {names}"
                )
                return built, seconds

            cold, _ = row("cold", "svc/a", work / "cache-1")
            (src / "features.py").write_text("COLUMNS = ['a', 'b', 'c']\n")
            source, source_s = row("source", "svc/a", work / "cache-1")
            unchanged, _ = row("unchanged", "svc/a", work / "cache-1")
            (src / "features.py").write_text("COLUMNS = ['a', 'b']\n")
            again, _ = row("cold again", "svc/b", work / "cache-2")
            input_parts(inputs)
            best = min(_timed(lambda: input_parts(inputs)) for _ in range(5))
            print(f"{'plan':<11} {best:>8.3f}  input_parts, warm")
            print()
            print(f"cold digests identical: {again.digest == cold.digest}")
            ok_unchanged = unchanged.bytes_pushed == 0 and not unchanged.pip_ran
            only_source = [layer.name for layer in source.layers if not layer.reused] == ["source"]
            print(f"unchanged: 0 bytes and no pip: {ok_unchanged}")
            print(
                f"source change: only the source layer pushed: {only_source}, {source_s:.2f} s (target <= 3 s)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
