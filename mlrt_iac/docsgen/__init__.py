"""The block reference of the docs, generated from the code so it cannot drift from it.

`generate_pages()` returns {path under docs/: Markdown}: one page per resource type (arguments,
types, defaults and descriptions from the pydantic schemas; what a change of each argument does
on each provider, found by asking that provider's own `diff`; computed attributes) and the
provider table. The MkDocs hook (`mkdocs_hooks.py`, named in mkdocs.yml) adds them at build time.
"""

from __future__ import annotations

from .changes import ChangeKind, change_table
from .reference import generate_pages

__all__ = ["ChangeKind", "change_table", "generate_pages"]
