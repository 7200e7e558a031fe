"""The state: what mlrt knows it created (the document), what `mlrt state ...` does to it, and
the protocol a storage backend keeps. Backends themselves are plugins (top-level `state/`),
found through the `mlrt.backends` entry-point group."""

from .backend import (
    Backend,
    BackendFactory,
    LockInfo,
    WorkspaceBackend,
    discover_backends,
    load_backend,
    lock_info,
    locked_error,
    push_document,
    read_or_new,
)
from .document import (
    FORMAT_VERSION,
    AttributePath,
    OutputState,
    ResourceState,
    StateDocument,
    Status,
    now_iso,
)

__all__ = [
    "FORMAT_VERSION",
    "AttributePath",
    "Backend",
    "BackendFactory",
    "LockInfo",
    "OutputState",
    "ResourceState",
    "StateDocument",
    "Status",
    "WorkspaceBackend",
    "discover_backends",
    "load_backend",
    "lock_info",
    "locked_error",
    "now_iso",
    "push_document",
    "read_or_new",
]
