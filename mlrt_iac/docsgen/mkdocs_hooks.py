"""MkDocs hooks (mkdocs.yml `hooks:`): add the generated reference pages at build time, and
expand `<!-- include: PATH -->` lines into a code block holding that file (PATH relative to
docs/), so a guide shows exactly the example files that the test suite runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from mlrt_iac.docsgen import generate_pages

INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->$", re.MULTILINE)
LANGUAGES = {".py": "python", ".hcl": "hcl", ".json": "json", ".sh": "bash", ".yml": "yaml"}


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    """Add every generated page (built fresh on each build: nothing generated is committed)."""
    for path, text in generate_pages().items():
        files.append(File.generated(config, path, content=text))
    return files


def include_files(markdown: str, docs_dir: Path) -> str:
    """`markdown` with each include line replaced by the file's text in a fenced block; a
    missing file raises, so a build fails rather than showing a stale example."""

    def block(m: re.Match[str]) -> str:
        path = docs_dir / m["path"]
        text = path.read_text().rstrip("\n")
        return f"```{LANGUAGES.get(path.suffix, '')}\n{text}\n```"

    return INCLUDE.sub(block, markdown)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, **_: Any) -> str:
    return include_files(markdown, Path(config.docs_dir))
