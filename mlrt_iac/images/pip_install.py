"""Python packages for the base image's Python and platform, installed by this machine's pip
into a folder (`pip install --target --only-binary=:all: --python-version --platform`), then split
by distribution: what mlrt's runtime and the framework need (big, rarely changes) and what only
the workload's requirements add, so a changed requirement does not re-push the big layer.

Left out of the layers: `bin/` (console scripts whose shebang names this machine's interpreter,
and which are not on the image's PATH anyway), `__pycache__` and `*.pyc` (`--no-compile`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from mlrt_iac.errors import PermanentError

File = tuple[str, str]


@dataclass
class Dist:
    name: str  # normalised
    version: str
    requires: list[str]
    files: set[str]  # paths relative to the target folder


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run_pip(requirements: list[str], target: Path, python: str, platforms: list[str]) -> None:
    """Install `requirements` into `target`; a PermanentError naming what pip could not find."""
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(target), "--only-binary=:all:"]
    cmd += ["--python-version", python, "--implementation", "cp"]
    for tag in platforms:
        cmd += ["--platform", tag]
    cmd += ["--no-compile", "--no-warn-script-location", "--disable-pip-version-check", "--no-input"]
    cmd += ["--progress-bar", "off", *requirements]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        missing = re.findall(r"No matching distribution found for (\S+)", proc.stderr)
        what = f"pip found no {', '.join(missing)}" if missing else "pip install failed"
        raise PermanentError(
            f"Cannot install the image's Python packages: {what}",
            "\n".join(errors or proc.stderr.strip().splitlines()[-15:])
            + f"\n(for Python {python}, {platforms[0]}; only binary wheels are used). Check the"
            " requirement's name and version, and that a wheel exists for that Python and platform.",
        )


def read_dists(target: Path) -> dict[str, Dist]:
    """The installed distributions, from each *.dist-info's METADATA and RECORD."""
    out: dict[str, Dist] = {}
    for info in sorted(target.glob("*.dist-info")):
        meta = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8", errors="replace"))
        files: set[str] = set()
        record = info / "RECORD"
        if record.is_file():
            for line in record.read_text(encoding="utf-8").splitlines():
                path = line.rsplit(",", 2)[0]
                if path and not path.startswith(".."):
                    files.add(path)
        name = _norm(meta.get("Name", info.name.split("-")[0]))
        out[name] = Dist(name, meta.get("Version", ""), meta.get_all("Requires-Dist") or [], files)
    return out


def marker_env(python: str, platform_tag: str) -> dict[str, str]:
    machine = "aarch64" if platform_tag.endswith("aarch64") else "x86_64"
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "implementation_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": machine,
        "platform_release": "",
        "platform_version": "",
    }


def closure(roots: Iterable[str], dists: dict[str, Dist], env: dict[str, str]) -> set[str]:
    """The installed distributions `roots` (requirement strings) need, extras and markers
    evaluated for the target Python and platform."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    stack: list[tuple[str, frozenset[str]]] = []
    for root in roots:
        req = Requirement(root)
        stack.append((_norm(req.name), frozenset(req.extras)))
    while stack:
        name, extras = stack.pop()
        if (name, extras) in seen or name not in dists:
            continue
        seen.add((name, extras))
        names.add(name)
        for raw in dists[name].requires:
            try:
                req = Requirement(raw)
            except InvalidRequirement:
                continue
            if req.marker is not None:
                wanted = [""] + sorted(extras)
                if not any(req.marker.evaluate({**env, "extra": e}) for e in wanted):
                    continue
            stack.append((_norm(req.name), frozenset(req.extras)))
    return names


def owned_files(target: Path, dists: dict[str, Dist]) -> dict[str, list[File]]:
    """The files of each distribution ("" for files no distribution claims), left out what the
    module docstring says; a file no RECORD names goes with the distribution owning its top
    folder."""
    owner: dict[str, str] = {}
    top_owner: dict[str, str] = {}
    for dist in dists.values():
        for path in dist.files:
            owner[path] = dist.name
            top_owner.setdefault(path.split("/", 1)[0], dist.name)
    out: dict[str, list[File]] = {}
    base = str(target)
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not (rel_dir == "" and d == "bin"))
        for name in filenames:
            rel = rel_dir + name
            full = os.path.join(dirpath, name)
            if name.endswith(".pyc") or os.path.islink(full):
                continue
            who = owner.get(rel) or top_owner.get(rel.split("/", 1)[0]) or ""
            out.setdefault(who, []).append((rel, full))
    return {k: sorted(v) for k, v in out.items()}


def split_files(target: Path, dists: dict[str, Dist], first: set[str]) -> tuple[list[File], list[File]]:
    """(files of the distributions in `first`, all other files)."""
    a: list[File] = []
    b: list[File] = []
    for who, files in owned_files(target, dists).items():
        (a if who in first else b).extend(files)
    return sorted(a), sorted(b)


def installed_size(files: list[File]) -> int:
    return sum(os.path.getsize(full) for _, full in files)


def dist_listing(names: Iterable[str], dists: dict[str, Dist]) -> list[str]:
    return sorted(f"{n}=={dists[n].version}" for n in names if n in dists)
