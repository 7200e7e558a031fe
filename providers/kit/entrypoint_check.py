"""Plan-time check of a training's `entrypoint = "module:function"`: the module imports and
has the function, before any pool is created.

The check imports the module in a child Python (this interpreter, the project directory first
on sys.path, as the run does) with a timeout, and looks the function up; nothing is called.
Importing runs the module's top-level code, which Python always does: keep training work
inside the function. The child's answer is one JSON line; its own output is discarded.

Every plan of a changed training runs it, so a success is remembered under the SHA-256 of the
module file's content, the entrypoint and the interpreter, in memory and in the user's cache
folder (`$XDG_CACHE_HOME/mlrt/entrypoint-checks/`, outside the project): a plan of an unchanged
module starts no process. Failures are not remembered: a missing dependency can be installed
without the module changing. (A change in another module it imports is not seen by the cache
key; the run still reports it.)

Planning a change someone else wrote (a pull request in CI) then runs that module's top-level
code on the planning machine. `MLRT_PLAN_IMPORT_CHECK=0` turns the check off: the plan then
imports nothing of the project, and a bad entrypoint fails at apply instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from mlrt_iac.provider import Finding

TIMEOUT_S = 10.0
_MARK = "\x1emlrt-entrypoint "
_OK: set[str] = set()

# Runs in the child: argv = project_dir, module, function. Prints one marked JSON line.
_CHILD = r"""
import importlib, json, os, sys, traceback
project, mod, fn = sys.argv[1:4]
sys.path.insert(0, project)
out = sys.__stdout__
sys.stdout = sys.stderr = open(os.devnull, "w")
def answer(**kw):
    out.write("\x1emlrt-entrypoint " + json.dumps(kw) + "\n"); out.flush(); os._exit(0)
try:
    m = importlib.import_module(mod)
except SyntaxError as e:
    answer(kind="syntax", file=e.filename or "", line=e.lineno or 0, msg=e.msg or "invalid syntax")
except ModuleNotFoundError as e:
    answer(kind="not_found", name=e.name or mod, msg=str(e))
except BaseException as e:
    tb = traceback.extract_tb(e.__traceback__)
    own = [f for f in tb if os.path.abspath(f.filename).startswith(os.path.abspath(project) + os.sep)]
    at = own[-1] if own else (tb[-1] if tb else None)
    answer(kind="raised", type=type(e).__name__, msg=(str(e).strip().splitlines() or [""])[0],
           file=at.filename if at else "", line=at.lineno if at else 0)
f = getattr(m, fn, None)
if callable(f):
    answer(kind="ok")
names = sorted(n for n, v in vars(m).items() if callable(v) and not n.startswith("_")
               and getattr(v, "__module__", None) == m.__name__)
answer(kind="no_function", names=names, file=getattr(m, "__file__", "") or "")
"""


def _cache_dir() -> Path | None:
    from mlrt_iac.config.cache import key_path

    key = key_path()
    return None if key is None else key.parent / "entrypoint-checks"


def _key(entrypoint: str, source: Path) -> str | None:
    try:
        content = source.read_bytes()
    except OSError:
        return None
    h = hashlib.sha256()
    for part in (entrypoint.encode(), sys.executable.encode(), sys.version.encode(), content):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _remembered(key: str) -> bool:
    if key in _OK:
        return True
    folder = _cache_dir()
    if folder is not None and (folder / key).is_file():
        _OK.add(key)
        return True
    return False


def _remember(key: str) -> None:
    _OK.add(key)
    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
    except OSError:
        pass


def _rel(path: str, project_dir: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(project_dir.resolve()))
    except (ValueError, OSError):
        return path


def run_check(
    project_dir: Path, module: str, function: str, timeout: float | None = None
) -> dict[str, object]:
    """The child's answer ({"kind": "ok"} or what went wrong); `timeout` defaults to TIMEOUT_S."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(project_dir), module, function],
            cwd=project_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S if timeout is None else timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"kind": "timeout"}
    for line in proc.stdout.split("\n"):  # not splitlines(): it splits at the \x1e mark
        if line.startswith(_MARK):
            try:
                got = json.loads(line[len(_MARK) :])
            except ValueError:
                break
            if isinstance(got, dict):
                return got
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    return {"kind": "exited", "code": proc.returncode, "msg": last}


def entrypoint_findings(address: str, entrypoint: str, project_dir: Path) -> list[Finding]:
    """Nothing when the entrypoint imports and names a callable; else one error on the
    `entrypoint` line saying why, in one line of cause."""
    from mlrt_iac.runtime.fingerprint import entrypoint_source_paths

    module, _, function = entrypoint.partition(":")
    if not module or not function:
        return []  # the schema's format check reports it
    if os.environ.get("MLRT_PLAN_IMPORT_CHECK", "1") == "0":
        return []
    sources = entrypoint_source_paths(entrypoint, str(project_dir))
    key = _key(entrypoint, Path(sources[0])) if sources else None
    if key is not None and _remembered(key):
        return []
    got = run_check(project_dir, module, function)
    kind = got.get("kind")
    if kind == "ok":
        if key is not None:
            _remember(key)
        return []
    where = f'{address}: entrypoint "{entrypoint}"'
    summary, detail = "Entrypoint cannot be imported", ""
    if kind == "syntax":
        detail = (
            f"{where}: {_rel(str(got.get('file')), project_dir)} line {got.get('line')}: "
            f"{got.get('msg')}. Fix the syntax error."
        )
    elif kind == "not_found":
        name = str(got.get("name"))
        if name == module or module.startswith(name + "."):
            summary = "Entrypoint module not found"
            file = module.replace(".", "/")
            detail = (
                f"{where}: no module {name!r} in the project directory {project_dir} "
                f"(looked for {file}.py and {file}/__init__.py) or the installed packages."
            )
        else:
            detail = (
                f"{where}: importing {module} failed: {got.get('msg')}. Install the package it "
                "needs in this environment (the run uses the same Python)."
            )
    elif kind == "raised":
        at = f" ({_rel(str(got.get('file')), project_dir)} line {got.get('line')})" if got.get("file") else ""
        detail = f"{where}: importing {module} raised {got.get('type')}: {got.get('msg')}{at}."
    elif kind == "no_function":
        summary = "Entrypoint function not found"
        names = [str(n) for n in got.get("names") or []]  # type: ignore[attr-defined]
        from mlrt_iac.model.suggest import did_you_mean

        detail = (
            f"{where}: module {module} ({_rel(str(got.get('file')), project_dir)}) has no function "
            f"{function!r}.{did_you_mean(function, names)} "
            + (f"Its functions: {', '.join(names)}." if names else "It defines no functions.")
        )
    elif kind == "timeout":
        detail = (
            f"{where}: importing {module} took more than {TIMEOUT_S:g} s, so the plan stopped "
            "waiting. Move slow work (loading data, training) from the module's top level into "
            "the function."
        )
    else:
        detail = f"{where}: importing {module} exited with code {got.get('code')} without an answer. {got.get('msg') or ''}".strip()
    return [Finding("error", summary, detail, ("entrypoint",))]


__all__ = ["entrypoint_findings", "run_check", "TIMEOUT_S"]
