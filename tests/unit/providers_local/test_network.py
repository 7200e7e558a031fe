"""network_rule and external_access_integration on the local provider: records and egress lists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import ProviderContext, Related
from mlrt_iac.values import UNKNOWN
from providers.local import LocalProvider
from providers.local.network import ExternalAccessIntegrationHandler, NetworkRuleHandler


def rule(name: str, values: Any, mode: str = "EGRESS", type: str = "HOST_PORT") -> dict[str, Any]:
    return {"name": name, "mode": mode, "type": type, "value_list": values, "comment": None}


def related(attrs: dict[str, Any]) -> Related:
    """A rule as the engine hands it to the integration (typed, named by the provider)."""
    return Related(f"network_rule.{attrs['name']}", "network_rule", attrs["name"], attrs)


def eai(name: str, rules: Any, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "allowed_network_rules": rules,
        "enabled": True,
        "allowed_secrets": [],
        "comment": None,
        **kw,
    }


def handlers(p: LocalProvider) -> tuple[NetworkRuleHandler, ExternalAccessIntegrationHandler]:
    r, e = p.handler("network_rule"), p.handler("external_access_integration")
    assert isinstance(r, NetworkRuleHandler) and isinstance(e, ExternalAccessIntegrationHandler)
    return r, e


def test_rule_create_read_update_delete(provider: LocalProvider, ctx: ProviderContext) -> None:
    r, _ = handlers(provider)
    res = r.create(ctx, rule("pypi", ["pypi.org", "files.pythonhosted.org:443"]))
    path = ctx.data_dir / "network" / "rules" / "pypi.json"
    assert res.id == "pypi" and json.loads(path.read_text())["attributes"] == res.attributes
    assert r.read(ctx, "pypi", res.attributes).attributes == res.attributes
    up = r.update(ctx, "pypi", res.attributes, rule("pypi", ["pypi.org"])).attributes
    assert up["value_list"] == ["pypi.org"] and r.read(ctx, "pypi", up).attributes == up
    r.delete(ctx, "pypi", up)
    assert not path.exists() and r.read(ctx, "pypi", up).attributes is None


def test_rule_diff(provider: LocalProvider, ctx: ProviderContext) -> None:
    r, _ = handlers(provider)
    prior = r.create(ctx, rule("x", ["a.example.com"])).attributes
    d = r.diff(ctx, prior, rule("x", ["a.example.com", "b.example.com"]))
    assert d.changed == ["value_list"] and not d.needs_replace
    assert r.diff(ctx, prior, rule("x", ["a.example.com"], mode="INGRESS")).requires_replace == ["mode"]
    assert r.diff(ctx, prior, rule("x", ["10.0.0.0/8"], type="IPV4")).requires_replace == ["type"]


def test_bad_rule_is_permanent_and_records_nothing(provider: LocalProvider, ctx: ProviderContext) -> None:
    r, _ = handlers(provider)
    bad = rule("x", ["ok.example.com", "bad host:99999"])
    diags = r.validate(bad)
    assert diags.has_errors and "99999" in diags[0].detail
    with pytest.raises(PermanentError) as err:
        r.create(ctx, bad)
    assert "99999" in err.value.detail
    with pytest.raises(PermanentError):
        r.create(ctx, rule("y", ["300.1.2.3"], type="IPV4"))
    assert not (ctx.data_dir / "network" / "rules").exists()
    assert not r.validate(rule("z", ["*.example.com", "0.0.0.0:443"])).has_errors


def test_eai_effective_egress_from_related(provider: LocalProvider, ctx: ProviderContext) -> None:
    _, e = handlers(provider)
    ctx.related = {
        "network_rule.pypi": related(
            rule("pypi", ["PyPI.org", "files.pythonhosted.org:443", "pypi.org:443"])
        ),
        "network_rule.hf": related(rule("hf", ["*.huggingface.co", "0.0.0.0:443"])),
        "network_rule.db": related(rule("db", ["10.1.2.3"], type="IPV4")),
    }
    desired = eai("ml", ["pypi", "hf", "db"])
    planned = e.plan_computed(ctx, desired, None)
    res = e.create(ctx, desired)
    expected = [
        "*.huggingface.co:443",
        "0.0.0.0:443",
        "10.1.2.3/32:*",
        "files.pythonhosted.org:443",
        "pypi.org:443",
    ]
    assert res.attributes["effective_egress"] == expected
    assert planned == {"effective_egress": expected}
    path = ctx.data_dir / "network" / "integrations" / "ml.json"
    assert json.loads(path.read_text())["attributes"] == res.attributes
    assert e.read(ctx, "ml", res.attributes).attributes == res.attributes
    e.delete(ctx, "ml", res.attributes)
    assert e.read(ctx, "ml", res.attributes).attributes is None


def test_eai_reads_recorded_rules_without_related(provider: LocalProvider, ctx: ProviderContext) -> None:
    r, e = handlers(provider)
    r.create(ctx, rule("pypi", ["pypi.org"]))
    assert e.create(ctx, eai("ml", ["pypi"])).attributes["effective_egress"] == ["pypi.org:443"]


def test_eai_with_unknown_or_ingress_rules_fails_and_records_nothing(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    _, e = handlers(provider)
    with pytest.raises(PermanentError) as err:
        e.create(ctx, eai("ml", ["nope"]))
    assert "nope" in err.value.detail
    ctx.related = {"network_rule.in": related(rule("in", ["10.0.0.0/8"], mode="INGRESS", type="IPV4"))}
    with pytest.raises(PermanentError) as err:
        e.create(ctx, eai("ml", ["in"]))
    assert "INGRESS" in err.value.detail
    assert not (ctx.data_dir / "network" / "integrations").exists()


def test_eai_plan_is_unknown_while_a_rule_is_unknown(provider: LocalProvider, ctx: ProviderContext) -> None:
    _, e = handlers(provider)
    ctx.related = {"network_rule.pypi": related(rule("pypi", UNKNOWN))}
    assert e.plan_computed(ctx, eai("ml", ["pypi"]), None) == {}
    assert e.plan_computed(ctx, eai("ml", UNKNOWN), None) == {}


def test_eai_diff_sees_a_rule_change_as_an_update(provider: LocalProvider, ctx: ProviderContext) -> None:
    _, e = handlers(provider)
    ctx.related = {"network_rule.pypi": related(rule("pypi", ["pypi.org"]))}
    prior = e.create(ctx, eai("ml", ["pypi"])).attributes
    assert e.diff(ctx, prior, eai("ml", ["pypi"])).changed == []
    ctx.related = {"network_rule.pypi": related(rule("pypi", ["pypi.org", "files.pythonhosted.org"]))}
    d = e.diff(ctx, prior, eai("ml", ["pypi"]))
    assert d.changed == ["effective_egress"] and not d.needs_replace
    up = e.update(ctx, "ml", prior, eai("ml", ["pypi"])).attributes
    assert up["effective_egress"] == ["files.pythonhosted.org:443", "pypi.org:443"]
    d = e.diff(ctx, up, eai("ml", ["pypi"], enabled=False))
    assert d.changed == ["enabled"] and not d.needs_replace
    assert e.diff(ctx, up, eai("ml2", ["pypi"])).requires_replace == ["name"]
