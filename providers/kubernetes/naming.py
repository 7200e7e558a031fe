"""Kubernetes names and labels derived from mlrt addresses and block names.

Kubernetes restricts names (DNS-1123 labels: lowercase alphanumerics and '-', at most 63
characters, starting with a letter for Services) and label values (63 characters of
`[A-Za-z0-9_.-]`, alphanumeric at both ends). mlrt addresses such as
`module.team["a"].service.api` break both rules, so they are encoded here; the exact address
always travels in the `mlrt.dev/address` annotation as well.
"""

from __future__ import annotations

import hashlib
import re

MANAGED_BY = "app.kubernetes.io/managed-by"
ADDRESS_LABEL = "mlrt.dev/address"
ADDRESS_ANNOTATION = "mlrt.dev/address"
WORKLOAD_LABEL = "mlrt.dev/workload"

_LABEL_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
_NAME_BAD = re.compile(r"[^a-z0-9-]+")


def _digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def label_value(text: str) -> str:
    """A valid label value for any string: invalid characters become '_', long values are
    shortened with a hash suffix so two long addresses never collide."""
    value = _LABEL_BAD.sub("_", text).strip("_.-")
    if value != text:
        # The encoding is lossy: a hash keeps distinct addresses distinct.
        value = f"{value[:54].rstrip('_.-')}-{_digest(text)}" if value else _digest(text)
    if len(value) > 63:
        value = f"{value[:54].rstrip('_.-')}-{_digest(text)}"
    return value


def dns_name(text: str, max_len: int = 63) -> str:
    """A DNS-1035 label (starts with a letter) from a block name such as `gpu_pool`."""
    value = _NAME_BAD.sub("-", text.lower()).strip("-")
    value = re.sub("-{2,}", "-", value)
    if not value or not value[0].isalpha():
        value = f"x-{value}".rstrip("-")
    if len(value) > max_len:
        value = f"{value[: max_len - 9].rstrip('-')}-{_digest(text)}"
    return value


def base_labels(address: str) -> dict[str, str]:
    """The labels every object mlrt renders carries."""
    return {MANAGED_BY: "mlrt", ADDRESS_LABEL: label_value(address)}
