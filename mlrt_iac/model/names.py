"""Names handed to Kubernetes and Ray: normalised, then checked against one strict rule.

A resource's `name` (or its block label) becomes a Kubernetes object name (Namespace,
Deployment, Service, RayCluster) and a Ray job / Serve application name. Kubernetes Service
names must be RFC 1035 labels, the strictest of the rules involved, so that is what we enforce:

- normalisation: lowercase, `_` -> `-` (nothing else is rewritten, so no two different
  names silently collapse into one beyond case and underscores);
- then the name must match `[a-z]([-a-z0-9]*[a-z0-9])?` and be at most 63 characters:
  it starts with a letter (a leading digit is rejected, because a Service named "1pool" is
  refused by the API server), ends with a letter or digit, and holds only letters, digits and
  hyphens. Names are never truncated: a long name is an error the user fixes once.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 63
_NAME_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def normalize_name(s: str) -> str:
    """Lowercase and turn underscores into hyphens: `My_Pool` -> `my-pool`."""
    return s.lower().replace("_", "-")


def name_problem(normalized: str) -> str | None:
    """Why a normalised name is unusable, as a sentence fragment; None when it is fine."""
    if not normalized:
        return "it is empty"
    if len(normalized) > MAX_NAME_LENGTH:
        return f"it is {len(normalized)} characters long, more than the {MAX_NAME_LENGTH} allowed"
    if _NAME_RE.fullmatch(normalized) is None:
        if not normalized[0].isascii() or not normalized[0].isalpha():
            return "it must start with a letter"
        if normalized.endswith("-"):
            return "it must end with a letter or a digit"
        bad = sorted({c for c in normalized if not (c.isascii() and (c.isalnum() or c == "-"))})
        return (
            "it contains "
            + ", ".join(repr(c) for c in bad)
            + " (only letters, digits, '-' and '_' are allowed)"
        )
    return None


def default_name(label: str, index_key: int | str | None) -> str:
    """The name a block gets without `name = ...`: its label, plus `-KEY` under count/for_each.

    The key is appended so that `compute_pool "gpu" { for_each = ... }` does not give every
    instance the same provider object.
    """
    if index_key is None:
        return normalize_name(label)
    return normalize_name(f"{label}-{index_key}")
