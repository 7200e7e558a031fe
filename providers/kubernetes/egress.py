"""Egress rules → NetworkPolicy and CiliumNetworkPolicy objects.

An external access integration resolves to entries such as `api.example.com:443`,
`*.pypi.org:443`, `0.0.0.0:443` (any host on 443) or `10.0.0.0/8` (an IPV4 rule, all ports).
Entries whose host is an IPv4 address or CIDR are enforced by a plain NetworkPolicy (`ipBlock`);
host names need an FQDN-aware CNI: with `fqdn_policies = "cilium"` they become a
CiliumNetworkPolicy `toFQDNs`, otherwise the NetworkPolicy opens their ports to any address and
a warning says they are recorded but not enforced.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DNS_PEER: dict[str, Any] = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


@dataclass(frozen=True)
class EgressEntry:
    host: str  # a host name (maybe "*.x.com") or a CIDR
    port: int | None
    is_ip: bool


def parse_entry(text: str, default_port: int | None = None) -> EgressEntry:
    """`host[:port]` or `CIDR[:port]`; host names default to port 443."""
    host, port = text.strip(), None
    if ":" in host:
        head, _, tail = host.rpartition(":")
        if tail.isdigit():
            host, port = head, int(tail)
    try:
        net = ipaddress.IPv4Network(host, strict=False)
        return EgressEntry(str(net), port if port is not None else default_port, True)
    except ValueError:
        return EgressEntry(host.lower(), port if port is not None else 443, False)


def entries_from_rule(rule: dict[str, Any]) -> list[str]:
    """The egress entries a network_rule contributes (INGRESS rules contribute none)."""
    if str(rule.get("mode", "EGRESS")).upper() != "EGRESS":
        return []
    out = []
    for value in rule.get("value_list") or []:
        e = parse_entry(str(value))
        if str(rule.get("type", "")).upper() == "HOST_PORT" and not e.is_ip:
            out.append(f"{e.host}:{e.port}")
        else:
            out.append(f"{e.host}:{e.port}" if e.port is not None else e.host)
    return out


def _ports(ports: Iterable[int]) -> list[dict[str, Any]]:
    return [{"port": p, "protocol": "TCP"} for p in sorted(set(ports))]


def network_policy(
    name: str,
    namespace: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    selector: dict[str, str],
    entries: list[EgressEntry],
    cilium: bool,
) -> dict[str, Any]:
    """Default-deny egress for the selected pods, allowing DNS, the namespace's own pods (Ray
    head/worker traffic) and the IP rules (and, without Cilium, the host-name rules' ports)."""
    egress: list[dict[str, Any]] = [
        {"to": [DNS_PEER], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"podSelector": {}}]},
    ]
    by_port: dict[int | None, list[str]] = {}
    for e in entries:
        if e.is_ip:
            by_port.setdefault(e.port, []).append(e.host)
    for port in sorted(by_port, key=lambda p: -1 if p is None else p):
        rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": c}} for c in sorted(set(by_port[port]))]}
        if port is not None:
            rule["ports"] = _ports([port])
        egress.append(rule)
    fqdn_ports = [e.port for e in entries if not e.is_ip and e.port is not None]
    if fqdn_ports and not cilium:
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _ports(fqdn_ports)})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Egress"], "egress": egress},
    }


def cilium_policy(
    name: str,
    namespace: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    selector: dict[str, str],
    entries: list[EgressEntry],
) -> dict[str, Any] | None:
    """toFQDNs per port for host-name rules; the DNS rule lets Cilium's proxy learn the IPs."""
    by_port: dict[int, list[str]] = {}
    for e in entries:
        if not e.is_ip and e.port is not None:
            by_port.setdefault(e.port, []).append(e.host)
    if not by_port:
        return None
    egress: list[dict[str, Any]] = [
        {
            "toEndpoints": [
                {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}}
            ],
            "toPorts": [
                {"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}
            ],
        }
    ]
    for port in sorted(by_port):
        fqdns = [{"matchPattern": h} if "*" in h else {"matchName": h} for h in sorted(set(by_port[port]))]
        egress.append({"toFQDNs": fqdns, "toPorts": [{"ports": [{"port": str(port), "protocol": "TCP"}]}]})
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": {"endpointSelector": {"matchLabels": selector}, "egress": egress},
    }
