"""The plan-time digest: which part changes when the source, the requirements, the base, the
model or the config change; a touch changes nothing; no build, pip or network involved."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from mlrt_iac.images import ImageInputs, changed_inputs, input_parts, inputs_digest
from mlrt_iac.images.digest import PARTS, digest_of_parts
from mlrt_iac.runtime.content_hashes import FileHashCache


def _project(tmp_path: Path) -> ImageInputs:
    src = tmp_path / "proj"
    (src / "pkg").mkdir(parents=True)
    (src / "train.py").write_text("import pkg.util\n")
    (src / "pkg" / "util.py").write_text("X = 1\n")
    (src / "data.parquet").write_bytes(b"PAR1 data")
    (src / ".mlrt").mkdir()
    (src / ".mlrt" / "state.json").write_text("{}")
    (src / "notes.tmp").write_text("scratch")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text('{"trees": []}')
    return ImageInputs(
        base="127.0.0.1:5000/base/python:3.11",
        pip_requirements=("scikit-learn>=1.4", "numpy"),
        framework="xgboost",
        source_dir=src,
        source_excludes=("*.tmp",),
        model_dir=model,
        env=(("A", "1"),),
        entrypoint=("python", "train.py"),
    )


def test_parts_have_the_documented_keys_and_derive_the_digest(tmp_path: Path) -> None:
    inputs = _project(tmp_path)
    parts = input_parts(inputs)
    assert list(parts) == list(PARTS)
    assert inputs_digest(inputs) == digest_of_parts(parts)
    assert inputs_digest(inputs).startswith("sha256:")
    assert parts["framework"].startswith("xgboost-cpu==")  # a CPU workload: no CUDA/NCCL
    gpu = input_parts(dataclasses.replace(inputs, gpu=True))
    assert gpu["framework"] == parts["framework"].replace("xgboost-cpu", "xgboost")


def test_each_change_names_its_part(tmp_path: Path) -> None:
    inputs = _project(tmp_path)
    before = input_parts(inputs)
    src = inputs.source_dir
    assert src is not None and inputs.model_dir is not None

    (src / "pkg" / "util.py").write_text("X = 2\n")
    assert changed_inputs(before, input_parts(inputs)) == ["source"]
    (src / "pkg" / "util.py").write_text("X = 1\n")
    assert changed_inputs(before, input_parts(inputs)) == []

    variants = {
        "pip_requirements": dataclasses.replace(inputs, pip_requirements=("scikit-learn>=1.5", "numpy")),
        "base": dataclasses.replace(inputs, base="127.0.0.1:5000/base/python:3.12"),
        "framework": dataclasses.replace(inputs, framework="lightgbm"),
        "runtime": dataclasses.replace(inputs, include_runtime=False),
        "config": dataclasses.replace(inputs, entrypoint=("python", "serve.py")),
    }
    for part, changed in variants.items():
        assert changed_inputs(before, input_parts(changed)) == [part], part
    (inputs.model_dir / "model.json").write_text('{"trees": [1]}')
    assert changed_inputs(before, input_parts(inputs)) == ["model"]


def test_spelling_order_touch_and_excluded_files_change_nothing(tmp_path: Path) -> None:
    inputs = _project(tmp_path)
    before = input_parts(inputs)
    src = inputs.source_dir
    assert src is not None
    later = time.time() + 100
    for path in src.rglob("*"):
        os.utime(path, (later, later))
    (src / "data.parquet").write_bytes(b"other data, not code")
    (src / "new.csv").write_text("a,b\n")
    (src / ".mlrt" / "state.json").write_text('{"serial": 2}')
    (src / "pkg" / "__pycache__").mkdir()
    (src / "pkg" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\0")
    (src / "other.tmp").write_text("excluded by source_excludes")
    respelled = dataclasses.replace(inputs, pip_requirements=("NumPy", "scikit_learn >= 1.4"))
    assert changed_inputs(before, input_parts(respelled)) == []


def test_executable_bit_and_new_file_count(tmp_path: Path) -> None:
    inputs = _project(tmp_path)
    before = input_parts(inputs)
    assert inputs.source_dir is not None
    os.chmod(inputs.source_dir / "train.py", 0o755)
    assert changed_inputs(before, input_parts(inputs)) == ["source"]
    (inputs.source_dir / "extra.py").write_text("")
    assert changed_inputs(before, input_parts(inputs)) == ["source"]


def test_persistent_hash_cache_reads_each_file_once(tmp_path: Path) -> None:
    inputs = _project(tmp_path)
    old = time.time() - 60  # outside the cache's racy window
    for path in tmp_path.rglob("*"):
        os.utime(path, (old, old))
    key = b"k" * 32
    first = FileHashCache.in_dir(tmp_path / "cache", key)
    parts = input_parts(inputs, hash_cache=first)
    assert first.hashed > 0
    second = FileHashCache.in_dir(tmp_path / "cache", key)
    assert input_parts(inputs, hash_cache=second) == parts
    assert second.hashed == 0


def test_changed_inputs_lists_parts_in_order() -> None:
    old = {"base": "a", "source": "x", "config": "c"}
    new = {"base": "b", "source": "y", "config": "c", "model": "m"}
    assert changed_inputs(old, new) == ["base", "source", "model"]


def test_input_parts_is_fast_enough_for_plans(tmp_path: Path) -> None:
    """Warm: mlrt's runtime files and a 200-file project found by stat, no file read."""
    inputs = _project(tmp_path)
    assert inputs.source_dir is not None
    for i in range(200):
        (inputs.source_dir / "pkg" / f"m{i}.py").write_text(f"V = {i}\n" * 50)
    input_parts(inputs)
    start = time.perf_counter()
    for _ in range(5):
        input_parts(inputs)
    per_call = (time.perf_counter() - start) / 5
    assert per_call < 0.25, per_call


def test_scratch_is_this_machines_python_with_no_layers() -> None:
    """`scratch` (no base image, the local provider's default) stands for this Python: its
    version is part of the inputs, and the base has no layers and says which Python it is."""
    import sys

    from mlrt_iac.images.base import resolve
    from mlrt_iac.images.reference import ScratchRef, parse_reference

    ref = parse_reference("scratch")
    assert isinstance(ref, ScratchRef)
    base = resolve(ref, None)
    assert base.layers == [] and base.python == f"{sys.version_info.major}.{sys.version_info.minor}"
    parts = input_parts(ImageInputs(base="scratch", include_runtime=False))
    assert parts["base"].startswith(f"scratch python{sys.version_info.major}.{sys.version_info.minor} ")
