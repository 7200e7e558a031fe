"""The one address parser and matcher (`mlrt_iac.addrs`)."""

from __future__ import annotations

from typing import Any

import pytest

from mlrt_iac.addrs import Address, AddressError, contains, matches_any


@pytest.mark.parametrize(
    "address,parts",
    [
        ("training.t", ("", "training", "t", None)),
        ('compute_pool.gpu["a10"]', ("", "compute_pool", "gpu", "a10")),
        ("service.s[3]", ("", "service", "s", 3)),
        ('module.a.module.b["x.y"].service.s', ('module.a.module.b["x.y"]', "service", "s", None)),
    ],
)
def test_parse(address: str, parts: tuple[Any, ...]) -> None:
    p = Address.parse(address)
    assert (p.module, p.type, p.name, p.key) == parts
    assert str(p) == address


@pytest.mark.parametrize("bad", ["", "training", "training.", "a.b.c", "a.b[x]", "1a.b", "a[0].b"])
def test_parse_refuses_malformed(bad: str) -> None:
    with pytest.raises(AddressError, match="Invalid resource address"):
        Address.parse(bad)
    assert Address.try_parse(bad) is None


def test_module_only_needs_permission() -> None:
    with pytest.raises(AddressError):
        Address.parse("module.a")
    m = Address.parse('module.a["k"]', allow_module_only=True)
    assert m.is_module_only and m.module_names == ("a",) and str(m) == 'module.a["k"]'


def test_parts_and_views() -> None:
    a = Address.parse('module.team["x"].compute_pool.gpu["a10"]')
    assert a.block == Address.parse('module.team["x"].compute_pool.gpu')
    assert a.local == "compute_pool.gpu"
    assert a.label == "gpu-a10"
    assert a.module_names == ("team",)
    assert a.block.instance(0) == Address.parse('module.team["x"].compute_pool.gpu[0]')


def test_contains() -> None:
    assert contains("training.t", "training.t[0]")
    assert contains("training.t", "training.t")
    assert contains("module.a", 'module.a["k"].training.t')
    assert contains("module.a", "module.a.training.t")
    assert contains("module.a", "module.a.module.b.training.t")
    assert contains('module.a["k"]', 'module.a["k"].training.t')
    assert not contains('module.a["k"]', 'module.a["j"].training.t')
    assert not contains("training.tt", "training.t")
    assert not contains("training.t", "training.tt")
    assert not contains("module.ab", "module.a.training.t")
    assert not contains("module.a", "module.ab.training.t")
    assert not contains("training.t[0]", "training.t[1]")
    assert not contains("training.t", "module.a.training.t")
    assert not contains("not an address", "training.t")


def test_matches_any() -> None:
    assert matches_any("service.s[1]", ["training.t", "service.s"])
    assert not matches_any("service.s[1]", ["training.t", "service.s[0]"])
    assert not matches_any("service.s", [])


def test_of_reference() -> None:
    assert str(Address.of_reference("training.t.model_uri")) == "training.t"
    assert str(Address.of_reference("training.t")) == "training.t"
    assert str(Address.of_reference('module.m["a"].service.s[0].endpoint')) == 'module.m["a"].service.s[0]'
    assert Address.of_reference("x") is None  # no TYPE.NAME at all
