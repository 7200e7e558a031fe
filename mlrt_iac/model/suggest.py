"""'Did you mean' suggestions, shared by every check that rejects a name.

Terraform suggests the nearest valid name for a typo; we use difflib's ratio (case-insensitive)
because it is in the standard library and good enough for identifiers this short.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to `word`, or None when nothing is close enough."""
    cands = list(candidates)
    if not cands:
        return None
    lowered = {c.lower(): c for c in cands}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """' Did you mean "x"?' (with a leading space) or '' when there is no close candidate."""
    best = nearest(word, candidates, cutoff)
    return f' Did you mean "{best}"?' if best is not None else ""
