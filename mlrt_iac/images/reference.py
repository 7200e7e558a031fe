"""Image references: "host[:port]/repo[:tag][@sha256:...]" and "oci:/abs/dir[:tag][@sha256:...]".

A reference must name a tag or a digest: "latest" is not assumed, since an image that silently
follows a moving tag is not what a reproducible build starts from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlrt_iac.errors import PermanentError

DOCKER_HUB = "registry-1.docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class RegistryRef:
    host: str  # "127.0.0.1:5000"
    repository: str  # "team/svc"
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        out = f"{self.host}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


@dataclass(frozen=True)
class LayoutRef:
    path: str  # absolute directory
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        return (
            f"oci:{self.path}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


@dataclass(frozen=True)
class ScratchRef:
    """`scratch`, Docker's name for the empty image: mlrt's layers alone, for this machine's
    Python and architecture (what the local provider builds on when no base is named; add a
    base with Python to run the image elsewhere)."""

    def __str__(self) -> str:
        return SCRATCH


SCRATCH = "scratch"
ImageRef = RegistryRef | LayoutRef | ScratchRef


def _bad(ref: str, why: str) -> PermanentError:
    return PermanentError(
        f"Invalid image reference {ref!r}",
        f"{why}. Write host/repository:tag, host/repository@sha256:<digest> or oci:/absolute/dir:tag.",
    )


def split_repository(name: str) -> tuple[str, str]:
    """("host:port", "path") of "host:port/path"; Docker Hub names get its host and library/."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, name if rest else f"library/{name}"


def parse_reference(ref: str, *, require_pin: bool = True) -> ImageRef:
    """Parse a base image reference; without a tag or digest it is refused when `require_pin`."""
    text = ref.strip()
    if text == SCRATCH:
        return ScratchRef()
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise _bad(ref, f"{digest!r} is not a sha256 digest")
    if name.startswith("oci:"):
        path, tag = name[4:], None
        head, sep, tail = path.rpartition(":")
        if sep and "/" not in tail:
            path, tag = head, tail
        if not path.startswith("/"):
            raise _bad(ref, "an OCI layout path must be absolute")
        if require_pin and not tag and not digest:
            raise _bad(ref, "it names neither a tag nor a digest")
        return LayoutRef(path.rstrip("/") or "/", tag or None, digest or None)
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise _bad(ref, f"{tag!r} is not a valid tag")
    host, repository = split_repository(name)
    if not _REPO.match(repository):
        raise _bad(ref, f"{repository!r} is not a valid repository name")
    if require_pin and not tag and not digest:
        raise _bad(ref, "it names neither a tag nor a digest")
    return RegistryRef(host, repository, tag, digest or None)
