"""The generated block reference: every schema field is described, the pages hold every argument
and computed attribute, and what a change does is what each provider's `diff` decides."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel

from mlrt_iac.docsgen import ChangeKind, change_table, generate_pages
from mlrt_iac.docsgen.changes import providers
from mlrt_iac.docsgen.mkdocs_hooks import include_files
from mlrt_iac.docsgen.text import EXAMPLE, HOW, SNOWFLAKE, SUMMARY
from mlrt_iac.model import describe_type
from mlrt_iac.model.schemas import RESOURCE_MODELS, ComputePool, ImageRepository
from mlrt_iac.provider import Provider, ResourceHandler


def _models() -> list[type[BaseModel]]:
    """Every schema a user meets: resource types, their nested blocks, and nested computed types."""
    out: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = list(RESOURCE_MODELS.values())
    while todo:
        cls = todo.pop()
        if cls in out:
            continue
        out.append(cls)
        todo += [sub for sub, _ in getattr(cls, "BLOCKS", {}).values()]
        for info in cls.model_fields.values():
            for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
                for inner in (arg, *getattr(arg, "__args__", ())):
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        todo.append(inner)
    return out


def test_every_schema_field_has_a_description() -> None:
    models = _models()
    assert {m.__name__ for m in models} >= {"Training", "Dataset", "Scaling", "ComputePool", "Node"}
    missing = [f"{m.__name__}.{n}" for m in models for n, i in m.model_fields.items() if not i.description]
    assert missing == []


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return generate_pages()


def test_each_block_page_lists_every_argument_and_computed_attribute(pages: dict[str, str]) -> None:
    assert set(pages) == {f"reference/{t}.md" for t in RESOURCE_MODELS} | {"reference/providers.md"}
    for type_name in RESOURCE_MODELS:
        page = pages[f"reference/{type_name}.md"]
        for arg in describe_type(type_name):
            assert f"| `{arg.name}` |" in page, (type_name, arg.name)
            assert " ".join(arg.description.split()).replace("|", "\\|") in page
    pool = pages["reference/compute_pool.md"]
    assert "| `min_nodes` | number | `1` | in place | in place | in place |" in pool
    assert "| `instance_family` | string | required | replaces | replaces | replaces |" in pool
    assert "| `nodes` | list(block) |" in pool
    assert "- **ray**: An OCI image layout directory as on local" in pages["reference/image_repository.md"]


def test_changes_are_what_each_provider_decides(pages: dict[str, str]) -> None:
    table = change_table()
    # a network rule's mode is replaced by the local and ray providers, updated on Kubernetes
    assert table["network_rule"]["local"]["mode"] is ChangeKind.REPLACE
    assert table["network_rule"]["kubernetes"]["mode"] is ChangeKind.IN_PLACE
    assert table["compute_pool"]["local"]["initially_suspended"] is ChangeKind.IGNORED
    assert table["training"]["local"]["hyper_params"] is ChangeKind.NEW_RUN
    assert table["training"]["kubernetes"]["hyper_params"] is ChangeKind.REPLACE
    assert table["training"]["local"]["keep_versions"] is ChangeKind.IN_PLACE
    assert table["service"]["local"]["gpu_requests"] is ChangeKind.REPLACE
    assert table["service"]["ray"]["gpu_requests"] is ChangeKind.IN_PLACE
    assert table["image_repository"]["ray"]["registry"] is ChangeKind.REPLACE  # every type on every provider


def test_a_providers_force_new_reaches_the_page() -> None:
    """Nothing is copied: a provider that replaces on another argument shows it."""

    class Pools(ResourceHandler):
        type_name: ClassVar[str] = "compute_pool"
        force_new: ClassVar[tuple[str, ...]] = ("max_nodes",)

    class Repos(ResourceHandler):
        type_name: ClassVar[str] = "image_repository"

    class Toy(Provider):
        name: ClassVar[str] = "toy"
        handler_classes: ClassVar[tuple[type[ResourceHandler], ...]] = (Pools, Repos)

    table = change_table({"toy": Toy()})
    assert table["compute_pool"]["toy"]["max_nodes"] is ChangeKind.REPLACE
    assert table["compute_pool"]["toy"]["instance_family"] is ChangeKind.IN_PLACE
    assert "toy" not in table["training"]
    assert set(table["compute_pool"]["toy"]) == set(ComputePool.model_fields) - {"nodes", "state", "address"}
    assert (
        set(table["image_repository"]["toy"])
        == {"name", "comment", "registry"}
        == (set(ImageRepository.model_fields) - {"repository_url"})
    )


def test_prose_covers_exactly_the_supported_types() -> None:
    supported = {(p, t) for p, prov in providers().items() for t in prov.handlers}
    assert set(HOW) == supported
    for table in (SUMMARY, SNOWFLAKE, EXAMPLE):
        assert set(table) == set(RESOURCE_MODELS)


def test_include_lines_become_the_files_text(tmp_path: Path) -> None:
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "a.py").write_text("x = 1\n")
    md = "before\n<!-- include: ex/a.py -->\nafter"
    assert include_files(md, tmp_path) == "before\n```python\nx = 1\n```\nafter"
    with pytest.raises(FileNotFoundError):
        include_files("<!-- include: ex/missing.hcl -->", tmp_path)
