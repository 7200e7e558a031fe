"""Requirement strings: checked at plan time (no I/O) and normalised so that spelling does not
change an image's digest."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import InvalidRequirement, Requirement

# pip options are not requirements: a line like "--index-url ..." would change where packages
# come from behind the EAI check, so they are refused rather than passed on.
_OPTION_HINT = "pip options are not accepted here; set the index in pip's configuration"


def validate_requirements(lines: Sequence[str]) -> list[tuple[int, str]]:
    """(index, message) for each line pip could not parse; an empty list when all are fine."""
    problems: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        text = line.strip()
        if not text:
            problems.append((index, "empty requirement"))
        elif text.startswith("-"):
            problems.append((index, f"{text!r}: {_OPTION_HINT}"))
        else:
            try:
                Requirement(text)
            except InvalidRequirement as exc:
                problems.append((index, f"{text!r}: {exc}"))
    return problems


def normalise(line: str) -> str:
    """The canonical spelling of a parsable requirement: lower-case name with dashes, sorted
    extras and specifiers, as packaging prints them."""
    req = Requirement(line.strip())
    req.name = req.name.lower().replace("_", "-").replace(".", "-")
    return str(req)


def normalised_set(lines: Sequence[str]) -> list[str]:
    """Sorted, de-duplicated canonical requirements (order does not change what pip resolves)."""
    return sorted({normalise(line) for line in lines})
