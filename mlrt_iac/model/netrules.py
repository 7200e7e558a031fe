"""Network rule entries: parsing and checking `value_list`, and the resolved egress list.

HOST_PORT entries are `host[:port]`: host is a DNS name (labels of 1-63 letters, digits or
hyphens, not starting or ending with a hyphen, 253 characters at most) with an optional
leading `*.` wildcard, or an IPv4 address; port is 1-65535 and defaults to 443. The special
host `0.0.0.0` means "any host" on the given port (`0.0.0.0:443`), as in Snowflake.

IPV4 entries are an address or a CIDR block (`10.0.0.0/8`), optionally with `:port`
(`10.0.0.5:5432`). Without a port every port is allowed.

`effective_egress` turns EGRESS rules into one de-duplicated list of `host:port` strings that
providers enforce and workloads receive: HOST_PORT entries as `host:port` (lowercased host,
port 443 when omitted), IPV4 entries as `CIDR:port` or `CIDR:*` (a bare address becomes a /32).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Protocol

DEFAULT_PORT = 443
ANY_HOST = "0.0.0.0"
_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)


class RuleLike(Protocol):
    @property
    def mode(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def value_list(self) -> list[str]: ...


def _split_port(entry: str) -> tuple[str, str | None]:
    if entry.count(":") > 1:
        raise ValueError("it has more than one ':' (IPv6 addresses are not supported)")
    host, sep, port = entry.partition(":")
    return host, (port if sep else None)


def _check_port(port: str | None) -> int | None:
    if port is None:
        return None
    if not port.isdigit():
        raise ValueError(f'port "{port}" is not a number; write a port from 1 to 65535')
    value = int(port)
    if not 1 <= value <= 65535:
        raise ValueError(f"port {value} is out of range; use a port from 1 to 65535")
    return value


_DOTTED_QUAD_RE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")


def _is_ipv4(host: str) -> bool:
    if _DOTTED_QUAD_RE.fullmatch(host) is None:  # cheap pre-check: ipaddress raising is slow
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _check_host(host: str) -> None:
    if not host:
        raise ValueError("the host is empty; write host[:port], for example api.example.com:443")
    if host == ANY_HOST or _is_ipv4(host):
        return
    name = host[2:] if host.startswith("*.") else host
    if "*" in name:
        raise ValueError(f'host "{host}" has a wildcard that is not a leading "*."')
    if len(name) > 253:
        raise ValueError(f'host "{host}" is longer than 253 characters')
    for label in name.split("."):
        if not _LABEL_RE.fullmatch(label):
            why = "an empty label" if not label else f'the label "{label}"'
            raise ValueError(
                f'host "{host}" is not a valid DNS name ({why}: labels are 1-63 '
                "letters, digits or hyphens, not starting or ending with a hyphen)"
            )


def parse_host_port(entry: str) -> tuple[str, int]:
    """Validate one HOST_PORT entry; return (lowercased host, port). Raises ValueError."""
    host, port = _split_port(entry.strip())
    _check_host(host)
    value = _check_port(port)
    return host.lower(), (DEFAULT_PORT if value is None else value)


def parse_ipv4(entry: str) -> tuple[str, int | None]:
    """Validate one IPV4 entry; return (CIDR, port or None for any). Raises ValueError."""
    addr, port = _split_port(entry.strip())
    try:
        net = ipaddress.IPv4Network(addr, strict=False)
    except ValueError:
        raise ValueError(f'"{addr}" is not an IPv4 address or CIDR block (for example 10.0.0.0/8)') from None
    return str(net), _check_port(port)


def entry_problems(rule_type: str, entries: Iterable[object]) -> list[tuple[int, object, str]]:
    """Every bad entry as (index, entry, why); unknown (non-string) entries are skipped."""
    parse = parse_host_port if rule_type == "HOST_PORT" else parse_ipv4
    problems: list[tuple[int, object, str]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        try:
            parse(entry)
        except ValueError as exc:
            problems.append((i, entry, str(exc)))
    return problems


def effective_egress(rules: Iterable[RuleLike]) -> list[str]:
    """The resolved `host:port` list of the EGRESS rules (INGRESS rules are ignored)."""
    out: dict[str, None] = {}
    for rule in rules:
        if rule.mode != "EGRESS":
            continue
        for entry in rule.value_list:
            if not isinstance(entry, str):
                continue
            try:
                if rule.type == "HOST_PORT":
                    host, port = parse_host_port(entry)
                    out[f"{host}:{port}"] = None
                else:
                    cidr, p = parse_ipv4(entry)
                    out[f"{cidr}:{'*' if p is None else p}"] = None
            except ValueError:
                continue
    return list(out)


_METADATA = ipaddress.IPv4Network("169.254.0.0/16")  # link-local: cloud metadata (169.254.169.254)
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
BROAD_PREFIX = 8  # an IPV4 block larger than a /8 is "most of the internet"


def _network_risk(net: ipaddress.IPv4Network) -> str | None:
    if net.prefixlen == 0:
        return "it allows every IPv4 address"
    if net.overlaps(_METADATA):
        return (
            "it reaches the link-local range, where clouds serve instance metadata and credentials "
            "(169.254.169.254)"
        )
    if net.overlaps(_LOOPBACK):
        return "it reaches loopback addresses: services on the node itself, such as the Ray dashboard"
    if net.prefixlen < BROAD_PREFIX:
        return f"a /{net.prefixlen} block allows {net.num_addresses:,} addresses"
    return None


def _entry_risk(rule_type: str, entry: str) -> str | None:
    if rule_type == "HOST_PORT":
        host, port = parse_host_port(entry)
        if host == ANY_HOST:
            return f"it allows every host on port {port}"
        if host.startswith("*.") and "." not in host[2:]:
            return f'"{host}" allows every host under the top-level domain "{host[2:]}"'
        if _is_ipv4(host):
            return _network_risk(ipaddress.IPv4Network(host))
        if host == "localhost" or host.endswith(".localhost"):
            return "it reaches loopback addresses: services on the node itself"
        return None
    cidr, _ = parse_ipv4(entry)
    return _network_risk(ipaddress.IPv4Network(cidr))


def entry_risks(rule_type: str, mode: str, entries: Iterable[object]) -> list[tuple[int, str, str]]:
    """EGRESS entries that are valid but broad or dangerous, as (index, entry, why): each is a
    plan warning, since a rule that allows them may be exactly what an attacker needs."""
    if mode != "EGRESS":
        return []
    risks: list[tuple[int, str, str]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        try:
            why = _entry_risk(rule_type, entry)
        except ValueError:
            continue  # reported as an error by entry_problems
        if why:
            risks.append((i, entry, why))
    return risks


def allows(egress: Iterable[str], host: str, port: int) -> bool:
    """Whether an effective egress list (`effective_egress`'s `host:port` entries) lets a
    workload reach `host:port` by name: the same host, a leading `*.` wildcard covering it (as
    Snowflake matches, any depth of subdomain), or `0.0.0.0:PORT` (any host on that port).
    CIDR entries never match a host name: mlrt does not resolve names at plan time."""
    host = host.lower()
    for entry in egress:
        name, _, p = entry.rpartition(":")
        if p != str(port) and p != "*":
            continue
        if name == ANY_HOST or name == host:
            return True
        if name.startswith("*.") and host.endswith(name[1:]):
            return True
    return False


def missing_hosts(egress: Iterable[str], needed: Iterable[str]) -> list[str]:
    """The `host:port` entries of `needed` that `egress` does not allow, in their order."""
    granted = list(egress)
    out: list[str] = []
    for item in needed:
        host, _, port = item.rpartition(":")
        if not allows(granted, host, int(port)):
            out.append(item)
    return out
