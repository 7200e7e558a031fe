import pytest

from mlrt_iac.config.instances import ResourceInstance
from mlrt_iac.model import effective_egress, netrules, parse_host_port, parse_ipv4

from ._helpers import line_of, make, run


def rule(
    values: list[object],
    type_: str = "HOST_PORT",
    mode: str = "EGRESS",
    line: int = 1,
    name: str = "r",
    attr_lines: dict[str, int] | None = None,
) -> ResourceInstance:
    return make(
        "network_rule",
        name,
        {"mode": mode, "type": type_, "value_list": values},
        line=line,
        attr_lines=attr_lines,
    )


@pytest.mark.parametrize(
    "entry,expected",
    [
        ("pypi.org", ("pypi.org", 443)),
        ("API.Example.com:8443", ("api.example.com", 8443)),
        ("*.s3.amazonaws.com", ("*.s3.amazonaws.com", 443)),
        ("0.0.0.0:443", ("0.0.0.0", 443)),
        ("10.1.2.3:5432", ("10.1.2.3", 5432)),
        ("a-b.c1.io:1", ("a-b.c1.io", 1)),
        ("x.io:65535", ("x.io", 65535)),
    ],
)
def test_good_host_port_entries(entry: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(entry) == expected


@pytest.mark.parametrize(
    "entry,fragment",
    [
        ("bad_host.com", 'the label "bad_host"'),
        ("-a.com", 'the label "-a"'),
        ("a..com", "an empty label"),
        ("x.com:0", "port 0 is out of range"),
        ("x.com:65536", "port 65536 is out of range"),
        ("x.com:http", 'port "http" is not a number'),
        ("a.*.com", 'not a leading "*."'),
        ("", "the host is empty"),
        (":443", "the host is empty"),
        ("a" * 64 + ".com", "not a valid DNS name"),
        ("::1", "IPv6"),
    ],
)
def test_bad_host_port_entries(entry: str, fragment: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_host_port(entry)
    assert fragment in str(exc.value)


def test_ipv4_entries() -> None:
    assert parse_ipv4("10.0.0.0/8") == ("10.0.0.0/8", None)
    assert parse_ipv4("192.168.1.7") == ("192.168.1.7/32", None)
    assert parse_ipv4("10.0.0.5:5432") == ("10.0.0.5/32", 5432)
    with pytest.raises(ValueError, match="not an IPv4 address or CIDR"):
        parse_ipv4("10.0.0.300")
    with pytest.raises(ValueError, match="not an IPv4 address or CIDR"):
        parse_ipv4("example.com")
    with pytest.raises(ValueError, match="out of range"):
        parse_ipv4("10.0.0.1:99999")


def test_each_bad_entry_is_its_own_error_with_index_and_line() -> None:
    _, diags = run(
        rule(
            ["pypi.org", "bad_host:443", "ok.io", "x.io:70000"],
            line=3,
            attr_lines={"value_list": 4, "value_list.3": 6},
        )
    )
    errs = [d for d in diags if d.summary == "Invalid network rule entry"]
    assert len(errs) == 2
    assert 'Entry 1 of value_list, "bad_host:443"' in errs[0].detail and line_of(errs[0]) == 4
    assert 'Entry 3 of value_list, "x.io:70000"' in errs[1].detail and "1 to 65535" in errs[1].detail
    assert line_of(errs[1]) == 6  # an element's own range wins when the config layer records one


def test_valid_rule_passes() -> None:
    models, diags = run(rule(["pypi.org", "*.github.com:443", "api.x.io:8443"]))
    assert not diags and "network_rule.r" in models


@pytest.mark.parametrize(
    ("type_", "entry", "why"),
    [
        ("HOST_PORT", "0.0.0.0:443", "every host on port 443"),
        ("HOST_PORT", "*.com:443", 'top-level domain "com"'),
        ("HOST_PORT", "169.254.169.254:80", "instance metadata"),
        ("HOST_PORT", "127.0.0.1:8265", "loopback"),
        ("HOST_PORT", "localhost:6379", "loopback"),
        ("IPV4", "0.0.0.0/0", "every IPv4 address"),
        ("IPV4", "169.254.169.254", "instance metadata"),
        ("IPV4", "127.0.0.0/8", "loopback"),
        ("IPV4", "192.0.0.0/3", "/3 block allows 536,870,912 addresses"),
    ],
)
def test_broad_or_dangerous_egress_is_a_warning(type_: str, entry: str, why: str) -> None:
    """Valid but risky egress (issue 15 item 8) plans, with a warning on the entry's line."""
    narrow = "pypi.org" if type_ == "HOST_PORT" else "10.1.2.3"
    models, diags = run(rule([narrow, entry], type_=type_, line=2, attr_lines={"value_list": 5}))
    assert "network_rule.r" in models and not [d for d in diags if d.severity == "error"]
    (warn,) = [d for d in diags if d.summary == "Broad or dangerous egress"]
    assert (
        warn.severity == "warning"
        and why in warn.detail
        and f'Entry 1 of value_list, "{entry}"' in warn.detail
    )
    assert line_of(warn) == 5


def test_narrow_egress_and_ingress_have_no_warning() -> None:
    _, diags = run(rule(["10.1.2.0/24:5432", "8.8.8.8:53"], type_="IPV4"))
    assert not diags
    _, diags = run(rule(["0.0.0.0/0"], type_="IPV4", mode="INGRESS"))
    assert not [d for d in diags if d.summary == "Broad or dangerous egress"]


def test_ipv4_rule_rejects_hosts() -> None:
    _, diags = run(rule(["10.0.0.0/8", "db.internal"], type_="IPV4", line=2, attr_lines={"value_list": 5}))
    errs = [d for d in diags if d.summary == "Invalid network rule entry"]
    assert len(errs) == 1 and 'Entry 1 of value_list, "db.internal"' in errs[0].detail
    assert line_of(errs[0]) == 5


def test_mode_and_type_enums() -> None:
    models, diags = run(rule(["10.0.0.0/8"], type_="ipv4", mode="ingress"))
    assert not diags and models["network_rule.r"].mode == "INGRESS"
    _, diags = run(rule(["x.io"], mode="EGRES", line=1, attr_lines={"mode": 2}))
    d = [d for d in diags if d.summary == "Invalid value"][0]
    assert 'Did you mean "EGRESS"?' in d.detail and line_of(d) == 2


def test_ingress_host_port_is_rejected() -> None:
    _, diags = run(rule(["x.io"], mode="INGRESS", line=1, attr_lines={"type": 3}))
    d = [d for d in diags if d.summary == "Invalid value"][0]
    assert 'type = "IPV4"' in d.detail and line_of(d) == 3


def test_effective_egress_resolves_ports_and_skips_ingress() -> None:
    models, diags = run(
        rule(["pypi.org", "Files.example.com:8443", "pypi.org:443"], name="a"),
        rule(["10.0.0.0/8", "10.1.1.1:5432"], type_="IPV4", name="b"),
        rule(["192.168.0.0/16"], type_="IPV4", mode="INGRESS", name="c"),
    )
    assert not diags
    assert effective_egress(models.values()) == [
        "pypi.org:443",
        "files.example.com:8443",
        "10.0.0.0/8:*",
        "10.1.1.1/32:5432",
    ]


PYPI = ["pypi.org:443", "pypi.python.org:443", "pythonhosted.org:443", "files.pythonhosted.org:443"]


@pytest.mark.parametrize(
    ("egress", "lacking"),
    [
        (["pypi.org:443", "pypi.python.org:443", "pythonhosted.org:443", "files.pythonhosted.org:443"], []),
        (["0.0.0.0:443"], []),
        (["pypi.org:443", "*.pythonhosted.org:443"], ["pypi.python.org:443", "pythonhosted.org:443"]),
        (["pypi.org:80", "0.0.0.0:80"], PYPI),
        (["0.0.0.0/0:*", "151.101.0.0/16:443"], PYPI),  # CIDR entries never match a host name
        ([], PYPI),
    ],
)
def test_missing_hosts_matches_hosts_wildcards_and_any_host(egress: list[str], lacking: list[str]) -> None:
    assert netrules.missing_hosts(egress, PYPI) == lacking


def test_a_wildcard_covers_subdomains_not_the_bare_domain_or_lookalikes() -> None:
    assert netrules.allows(["*.example.com:443"], "a.b.example.com", 443)
    assert not netrules.allows(["*.example.com:443"], "example.com", 443)
    assert not netrules.allows(["*.example.com:443"], "badexample.com", 443)
    assert not netrules.allows(["*.example.com:443"], "a.example.com", 80)
