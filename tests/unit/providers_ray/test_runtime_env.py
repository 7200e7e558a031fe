"""What a Ray job or Serve application carries (providers/ray/runtime_env.py): mlrt's runtime
alone as a package, the provider block's runtime_env merged in, an image instead of all of it,
and an entrypoint that finds the cluster's Python without PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlrt_iac.errors import PermanentError
from providers.ray import runtime_env
from providers.ray.runtime_env import entrypoint, runtime_package, workload_env

ONLY_RUNTIME = """
import sys
import mlrt_iac.runtime.ray_entry, mlrt_iac.runtime.serving.model, mlrt_iac.runtime.artifact
assert mlrt_iac.__file__.startswith(sys.argv[1]), mlrt_iac.__file__
engine = sorted(
    m for m in sys.modules
    if m.startswith("mlrt_iac.") and not m.startswith(("mlrt_iac.runtime", "mlrt_iac.version"))
)
assert not engine, engine
print("ok")
"""


def test_the_runtime_package_is_the_runtime_alone_and_imports_from_itself(tmp_path: Path) -> None:
    package = runtime_package(tmp_path)
    names = {p.name for p in package.iterdir()}
    assert names == {"__init__.py", "version.py", "runtime"}
    assert not list(package.rglob("__pycache__"))
    # Its folder first on sys.path: every import of mlrt_iac resolves inside it.
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(package.parent)!r})\n" + ONLY_RUNTIME,
            str(package),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=120,
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_the_same_runtime_gives_the_same_folder(tmp_path: Path) -> None:
    assert runtime_package(tmp_path) == runtime_package(tmp_path)
    assert len(list((tmp_path / "ray" / "runtime").iterdir())) == 1


def test_workload_env_merges_the_provider_block(tmp_path: Path) -> None:
    provider = {
        "env_vars": {"A": "1", "B": "provider"},
        "excludes": ["big/"],
        "pip": ["requests"],
        "py_modules": ["/opt/extra"],
        "config": {"setup_timeout_seconds": 60},
    }
    renv = workload_env(
        data_dir=tmp_path,
        project_dir=tmp_path / "proj",
        provider_env=provider,
        env_vars={"B": "workload"},
        pip_requirements=["xgboost==3.*"],
        excludes=["/data/train.parquet"],
    )
    assert renv["working_dir"] == str(tmp_path / "proj")
    assert renv["py_modules"] == [str(runtime_package(tmp_path)), "/opt/extra"]
    assert renv["pip"] == ["requests", "xgboost==3.*"]
    assert renv["env_vars"] == {"A": "1", "B": "workload"}
    assert renv["excludes"] == [*runtime_env.EXCLUDES, "/data/train.parquet", "big/"]
    assert renv["config"] == {"setup_timeout_seconds": 60}
    dict_pip = workload_env(
        data_dir=tmp_path,
        project_dir=tmp_path,
        provider_env={"pip": {"packages": ["a"], "pip_check": False}},
        env_vars={},
        pip_requirements=["b"],
    )
    assert dict_pip["pip"] == {"packages": ["a", "b"], "pip_check": False}
    assert "pip" not in workload_env(data_dir=tmp_path, project_dir=tmp_path, provider_env={}, env_vars={})
    with pytest.raises(PermanentError, match="pip_requirements"):
        workload_env(
            data_dir=tmp_path,
            project_dir=tmp_path,
            provider_env={"pip": "requirements.txt"},
            env_vars={},
            pip_requirements=["b"],
        )


def test_an_image_replaces_everything_shipped(tmp_path: Path) -> None:
    renv = workload_env(
        data_dir=tmp_path,
        project_dir=tmp_path,
        provider_env={"env_vars": {"A": "1"}, "pip": ["x"]},
        env_vars={"B": "2"},
        image="127.0.0.1:5000/models/churn@sha256:" + "0" * 64,
    )
    assert renv == {
        "image_uri": "127.0.0.1:5000/models/churn@sha256:" + "0" * 64,
        "env_vars": {"A": "1", "B": "2"},
    }
    assert not (tmp_path / "ray").exists()  # nothing staged for an image


def test_a_managed_cluster_runs_this_interpreter() -> None:
    assert entrypoint(True, "env:SPEC").startswith(f"{sys.executable} -m mlrt_iac.runtime.ray_entry")


def test_an_attached_cluster_runs_the_python_its_raylet_names(tmp_path: Path) -> None:
    """The entrypoint's parent stands in for Ray's job supervisor, whose parent raylet names the
    cluster's Python; PATH has no venv."""
    fake = tmp_path / "venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "ran $0 $*"\n')
    fake.chmod(0o755)
    command = entrypoint(False, "env:SPEC")
    raylet = (
        "import subprocess, sys; "
        "sys.exit(subprocess.run([sys.executable, '-c', 'import subprocess, sys; "
        'sys.exit(subprocess.run(["/bin/sh", "-c", sys.argv[1]]).returncode)\', sys.argv[1]]).returncode)'
    )
    proc = subprocess.run(
        [sys.executable, "-c", raylet, command, f"--python_worker_command={fake} -u worker.py"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ran {fake} -m mlrt_iac.runtime.ray_entry env:SPEC"
