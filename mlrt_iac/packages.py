"""Which Python packages a configuration needs here, which are installed, and the exact
`pip install` line that adds what is missing.

A local training runs its framework in this interpreter, a Ray cluster that mlrt starts runs
`ray` from it, and the kubernetes provider talks through the `kubernetes` client, so these must
be importable where mlrt runs. The version ranges are mlrt's own (the installed `mlrt-iac`
distribution's extras, i.e. pyproject.toml), never a copy. Only package metadata is read
(importlib.metadata): nothing heavy is imported to find out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

DIST = "mlrt-iac"
# framework -> (distribution, extra that brings it)
FRAMEWORK_PACKAGES: dict[str, tuple[str, str]] = {
    "xgboost": ("xgboost", "ml"),
    "lightgbm": ("lightgbm", "ml"),
    "pytorch": ("torch", "ml"),
}
# provider -> what it needs where mlrt runs (ray: only for clusters mlrt starts itself)
PROVIDER_PACKAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "ray": (("ray", "ray"),),
    "kubernetes": (("kubernetes", "kubernetes"),),
}
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;\s*(.*))?$")


@dataclass(frozen=True)
class Package:
    """One distribution a configuration needs: what mlrt asks for, what is installed."""

    name: str
    extra: str
    requirement: str  # "xgboost>=2.0" (extras kept: "ray[default,serve,train]>=2.40")
    specifier: str  # ">=2.0"
    installed: str | None  # version, None when missing
    why: str = ""

    @property
    def ok(self) -> bool:
        return self.installed is not None and _satisfies(self.installed, self.specifier)

    def state(self) -> str:
        if self.installed is None:
            return "not installed"
        if not self.ok:
            return f"{self.installed} installed, but mlrt needs {self.specifier}"
        return self.installed


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def _declared() -> dict[str, tuple[str, str]]:
    """distribution -> (requirement text without the marker, specifier) from mlrt's extras."""
    try:
        reqs = metadata.requires(DIST) or []
    except metadata.PackageNotFoundError:
        reqs = []
    out: dict[str, tuple[str, str]] = {}
    for raw in reqs:
        m = _REQ.match(raw)
        if m is None or not m.group(4) or "extra" not in m.group(4):
            continue
        name, extras, spec = m.group(1), m.group(2) or "", m.group(3).strip()
        out.setdefault(_norm(name), (f"{name}{extras}{spec}", spec))
    return out


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version ("2.13.0+cpu" -> (2, 13, 0); "2.0rc1" -> (2, 0))."""
    out: list[int] = []
    for part in version.split("+", 1)[0].split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        out.append(int(digits.group()))
        if digits.end() < len(part):
            break
    return tuple(out)


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


_OPS = {
    ">=": lambda c: c >= 0,
    "<=": lambda c: c <= 0,
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
    ">": lambda c: c > 0,
    "<": lambda c: c < 0,
    "~=": lambda c: c >= 0,
}


def _satisfies(version: str, specifier: str) -> bool:
    """Whether `version` meets every clause of `specifier` (release numbers only: the ranges
    mlrt declares are plain; importing `packaging` would cost every plan 30 ms)."""
    have = _release(version)
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        m = re.match(r"(>=|<=|==|!=|~=|>|<)\s*([0-9][^\s]*)", clause)
        if m is None or not have:
            continue
        want = m.group(2)
        if m.group(1) in ("==", "!=") and want.endswith(".*"):
            prefix = _release(want[:-2])
            same = have[: len(prefix)] == prefix
            if same != (m.group(1) == "=="):
                return False
            continue
        if not _OPS[m.group(1)](_cmp(have, _release(want))):
            return False
    return True


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=64)
def _installed(name: str) -> str | None:
    return installed_version(name)


def package(name: str, extra: str, why: str = "") -> Package:
    """What mlrt asks of `name` and what is installed (read once per process)."""
    requirement, spec = _declared().get(_norm(name), (name, ""))
    return Package(name, extra, requirement, spec, _installed(name), why)


def framework_package(framework: str, why: str = "") -> Package | None:
    entry = FRAMEWORK_PACKAGES.get(framework)
    return None if entry is None else package(entry[0], entry[1], why)


def _extra_line(extras: list[str]) -> str:
    """`pip install 'mlrt-iac[ml]'`, or `pip install -e '<checkout>[ml]'` for a checkout."""
    joined = ",".join(sorted(set(extras)))
    try:
        raw = metadata.distribution(DIST).read_text("direct_url.json")
        info = json.loads(raw) if raw else {}
    except (metadata.PackageNotFoundError, ValueError):
        info = {}
    url = info.get("url", "") if isinstance(info, dict) else ""
    editable = isinstance(info, dict) and (info.get("dir_info") or {}).get("editable")
    if editable and url.startswith("file://") and Path(url[len("file://") :]).is_dir():
        return f"pip install -e '{url[len('file://') :]}[{joined}]'"
    return f"pip install '{DIST}[{joined}]'"


def install_advice(missing: Iterable[Package]) -> str:
    """The exact lines that fix what is missing: the packages themselves, and mlrt's extra."""
    todo = [p for p in missing if not p.ok]
    if not todo:
        return ""
    pkgs = " ".join(f"'{p.requirement}'" for p in todo)
    return (
        f"Install it with: pip install {pkgs} (or with mlrt's extra: {_extra_line([p.extra for p in todo])})."
    )


def missing_message(pkg: Package) -> tuple[str, str]:
    """(summary, detail) of a diagnostic for a package that is missing or too old."""
    what = f"{pkg.why} needs" if pkg.why else "This configuration needs"
    if pkg.installed is None:
        return (
            f"Python package {pkg.name} is not installed",
            f"{what} the {pkg.name} package in this Python environment, and it is not installed. "
            + install_advice([pkg]),
        )
    return (
        f"Python package {pkg.name} is too old",
        f"{what} {pkg.requirement}, but {pkg.installed} is installed. " + install_advice([pkg]),
    )


def needed_by(provider: str, framework: object, attached: bool) -> list[Package]:
    """What one resource needs where mlrt runs: its provider's client and, when its work runs
    in this Python (local; Ray clusters mlrt starts), its training framework."""
    out: list[Package] = []
    if not (provider == "ray" and attached):
        out.extend(package(name, extra) for name, extra in PROVIDER_PACKAGES.get(provider, ()))
    if isinstance(framework, str) and provider in ("local", "ray") and not attached:
        pkg = framework_package(framework)
        if pkg is not None:
            out.append(pkg)
    return out
