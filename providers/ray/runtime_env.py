"""The environment a Ray job or Serve application carries, so a cluster whose Python has never
seen mlrt runs it (issue 10).

Every workload's `runtime_env` holds:

- `py_modules`: mlrt's runtime, and only it: a copy of `mlrt_iac/__init__.py`, `version.py` and
  `runtime/` as the package `mlrt_iac` (`runtime_package`; the runtime imports nothing of the
  engine, an import-linter contract). The copy sits in a folder named by its content hash, so
  the same mlrt gives the same files, Ray the same `gcs://_ray_pkg_<hash>.zip` URI, and the
  cluster's package cache uploads and unpacks it once.
- `working_dir`: the project (the entrypoint source, a model class), without `.mlrt/`, `.git/`,
  `__pycache__/` and the dataset files inside it (the job reads those by path).
- `pip`: the workload's `pip_requirements`, after any `pip` of the provider block's
  `runtime_env` (a list, or a dict with `packages`).
- `env_vars`: the workload's (the job spec, the egress list), over the provider block's.

A workload that names an `image` runs in it instead (Ray's container support, `image_uri`).
Ray accepts `image_uri` only with `env_vars` and `config`, so nothing is shipped: the image must
contain mlrt's runtime (`mlrt_iac`), the framework and the project's code, and
`pip_requirements` cannot be combined with it (a validation error of the training).

Jobs upload local folders themselves (`JobSubmissionClient.submit_job`); the Serve REST API
takes only URIs, so `upload` puts the folders into the cluster's package store through its
dashboard first (the same content-addressed packages). Ray keeps a package while a job or
replica uses it; a later deploy uploads it again if the cluster dropped it.

The entrypoint (`entrypoint`) does not trust `python` on PATH: Ray runs it with `/bin/sh`
and the PATH of whoever ran `ray start` (verified with Ray 2.60: a cluster started from an
unactivated virtual environment gives job drivers PATH=/usr/bin:/bin and no `python`). For a
cluster mlrt manages it is `sys.executable`, the interpreter that started it. For an attached
cluster it is the interpreter of the cluster itself, read from its raylet's
`--python_worker_command` (walking up from the job's supervisor process, the entrypoint's
parent), with `python` on PATH, as Ray documents, when none is found (e.g. inside a container).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import mlrt_iac
from mlrt_iac.errors import PermanentError

from .client import Dashboard

EXCLUDES = [".mlrt/", ".git/", "__pycache__/"]
RUNTIME_MODULE = "mlrt_iac.runtime.ray_entry"

# The cluster's own interpreter, for an attached cluster: the raylet that started the job's
# supervisor (the entrypoint's parent) names it in --python_worker_command.
_FIND_PYTHON = (
    'py=python; p=$PPID; while [ "${p:-0}" -gt 1 ]; do '
    'w=$(tr "\\000" "\\n" < /proc/$p/cmdline 2>/dev/null '
    '| sed -n "s/^--python_worker_command=\\([^ ]*\\).*/\\1/p"); '
    'if [ -n "$w" ]; then py=$w; break; fi; '
    'p=$(sed "s/.*) //" /proc/$p/stat 2>/dev/null | cut -d" " -f2); done; '
)


def entrypoint(managed: bool, args: str) -> str:
    """The job's shell command running `python -m mlrt_iac.runtime.ray_entry ARGS` with the
    cluster's Python (see the module docstring)."""
    if managed:
        return f"{shlex.quote(sys.executable)} -m {RUNTIME_MODULE} {args}"
    return f'{_FIND_PYTHON}exec "$py" -m {RUNTIME_MODULE} {args}'


def _runtime_files() -> list[tuple[str, Path]]:
    """(path inside the package, source file) of what the runtime needs of mlrt_iac."""
    src = Path(mlrt_iac.__file__).resolve().parent
    files = [("__init__.py", src / "__init__.py"), ("version.py", src / "version.py")]
    for path in sorted((src / "runtime").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((str(path.relative_to(src)), path))
    return files


def runtime_package(data_dir: Path) -> Path:
    """The folder `mlrt_iac` holding mlrt's runtime, under `.mlrt/ray/runtime/<content hash>/`
    (written once per mlrt version; a folder already there is complete: it is renamed into
    place only when written)."""
    files = _runtime_files()
    digest = hashlib.sha256()
    for rel, path in files:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    home = data_dir / "ray" / "runtime" / digest.hexdigest()[:20]
    package = home / "mlrt_iac"
    if package.is_dir():
        return package
    tmp = data_dir / "ray" / "runtime" / f".writing-{uuid.uuid4().hex[:8]}"
    try:
        for rel, path in files:
            target = tmp / "mlrt_iac" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        home.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, home)
        except OSError:
            if not package.is_dir():  # not another apply that got there first
                raise
    except OSError as exc:
        raise PermanentError(
            f"Could not write mlrt's runtime package under {home}", f"{exc.strerror or exc}."
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return package


def _pip(base: Any, requirements: list[str]) -> Any:
    """The provider block's `pip` followed by the workload's requirements."""
    if not requirements:
        return base
    if base is None:
        return list(requirements)
    if isinstance(base, list):
        return [*base, *requirements]
    if isinstance(base, dict) and isinstance(base.get("packages"), list):
        return {**base, "packages": [*base["packages"], *requirements]}
    raise PermanentError(
        'Cannot add pip_requirements to the runtime_env "pip" of provider "ray"',
        "Write it as a list of requirements (or a dict with `packages`) to combine it with "
        "a workload's pip_requirements.",
    )


def workload_env(
    *,
    data_dir: Path,
    project_dir: Path,
    provider_env: dict[str, Any],
    env_vars: dict[str, str],
    pip_requirements: list[str] | None = None,
    image: str | None = None,
    excludes: list[str] | None = None,
) -> dict[str, Any]:
    """The runtime_env of one job or Serve application (see the module docstring), merged with
    the provider block's `runtime_env`: env_vars, excludes, py_modules and pip are combined,
    its other keys are taken as they are."""
    merged_vars = {**(provider_env.get("env_vars") or {}), **env_vars}
    if image:
        renv: dict[str, Any] = {"image_uri": image, "env_vars": merged_vars}
        if provider_env.get("config") is not None:
            renv["config"] = provider_env["config"]
        return renv
    renv = {k: v for k, v in provider_env.items() if k not in ("env_vars", "excludes", "py_modules", "pip")}
    renv.update(
        {
            "working_dir": str(project_dir),
            "py_modules": [str(runtime_package(data_dir)), *(provider_env.get("py_modules") or [])],
            "excludes": [*EXCLUDES, *(excludes or []), *(provider_env.get("excludes") or [])],
            "env_vars": merged_vars,
        }
    )
    pip = _pip(provider_env.get("pip"), list(pip_requirements or []))
    if pip:
        renv["pip"] = pip
    return renv


def upload(dash: Dashboard, renv: dict[str, Any]) -> dict[str, Any]:
    """`renv` with its local `working_dir` and `py_modules` folders uploaded to the cluster's
    package store through its dashboard and replaced by their `gcs://` URIs (what the Serve REST
    API takes). `excludes` is dropped: it has been applied."""
    from ray.job_submission import JobSubmissionClient

    out = dict(renv)
    if "working_dir" not in out and "py_modules" not in out:
        return out
    try:
        client = JobSubmissionClient(dash.url, headers=dict(dash.headers))
        client._upload_working_dir_if_needed(out)
        client._upload_py_modules_if_needed(out)
    except Exception as exc:
        raise PermanentError(
            f"Uploading the Serve application's code to the Ray cluster at {dash.url} failed",
            f"{type(exc).__name__}: {exc}",
        ) from exc
    out.pop("excludes", None)
    return out


__all__ = ["EXCLUDES", "entrypoint", "runtime_package", "upload", "workload_env"]
