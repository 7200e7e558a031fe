"""CIDR functions: cidrhost, cidrnetmask, cidrsubnet, cidrsubnets.

As in Terraform, IPv4 octets with leading zeros are read as decimal (`010.1.0.0` is 10.1.0.0,
Go's behaviour before 1.17, kept by Terraform) and results are always canonical; an IPv4 address
written in IPv6 syntax (`::ffff:10.0.0.0/104`) comes out as IPv4.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..valueops import to_str
from .base import Func, FuncContext, FuncError, int_arg

_MAPPED = 0xFFFF << 32


class _Net:
    """A network: its address as an integer, its width (32 or 128 bits) and prefix length."""

    __slots__ = ("addr", "bits", "plen")

    def __init__(self, addr: int, bits: int, plen: int) -> None:
        self.addr, self.bits, self.plen = addr, bits, plen

    def mask(self, plen: int) -> int:
        return ((1 << self.bits) - 1) ^ ((1 << (self.bits - plen)) - 1)

    def last(self) -> int:
        return self.addr | ((1 << (self.bits - self.plen)) - 1)

    def contains(self, ip: int) -> bool:
        return ip & self.mask(self.plen) == self.addr

    def __str__(self) -> str:
        if self.bits == 128 and self.addr >> 32 == 0xFFFF and self.plen >= 96:
            return f"{_ip_str(self.addr & 0xFFFFFFFF, 32)}/{self.plen - 96}"
        return f"{_ip_str(self.addr, self.bits)}/{self.plen}"


def _ip_str(ip: int, bits: int) -> str:
    if bits == 32:
        return str(ipaddress.IPv4Address(ip))
    if ip >> 32 == 0xFFFF:
        return str(ipaddress.IPv4Address(ip & 0xFFFFFFFF))
    return ipaddress.IPv6Address(ip).compressed


def _dtoi(s: str) -> int | None:
    """Go's dtoi: leading decimal digits (leading zeros allowed); None unless all are digits."""
    if not s or not all("0" <= c <= "9" for c in s) or len(s) > 8:
        return None
    return int(s)


def _parse_v4(s: str) -> int | None:
    parts = s.split(".")
    if len(parts) != 4:
        return None
    out = 0
    for p in parts:
        n = _dtoi(p)
        if n is None or n > 255:
            return None
        out = out << 8 | n
    return out


def _parse_v6(s: str) -> int | None:
    if "%" in s:
        return None
    head, _, tail = s.rpartition(":")
    if "." in tail:  # an embedded IPv4 address may have leading zeros too
        v4 = _parse_v4(tail)
        if v4 is None:
            return None
        s = f"{head}:{v4 >> 16:x}:{v4 & 0xFFFF:x}"
    try:
        return int(ipaddress.IPv6Address(s))
    except ValueError:
        return None


def parse_cidr(s: str) -> _Net:
    """Go's net.ParseCIDR as it was before Go 1.17 (what Terraform keeps)."""
    addr, sep, plen_s = s.partition("/")
    bad = FuncError(f"invalid CIDR expression: invalid CIDR address: {s}")
    if not sep:
        raise bad
    bits = 32
    ip = _parse_v4(addr)
    if ip is None:
        bits, ip = 128, _parse_v6(addr)
    plen = _dtoi(plen_s)
    if ip is None or plen is None or plen > bits:
        raise bad
    net = _Net(0, bits, plen)
    net.addr = ip & net.mask(plen)
    return net


def f_cidrhost(ctx: FuncContext, prefix: Any, hostnum: Any) -> Any:
    num = int_arg(hostnum, "hostnum")
    net = parse_cidr(to_str(prefix))
    max_host = (1 << (net.bits - net.plen)) - 1
    if num < 0:
        magnitude = -num - 1
        num = max_host - magnitude
    else:
        magnitude = num & ((1 << 64) - 1)
    if magnitude > max_host:
        raise FuncError(f"prefix of {net.plen} does not accommodate a host numbered {num}")
    return _ip_str(net.addr | num, net.bits)


def f_cidrnetmask(ctx: FuncContext, prefix: Any) -> Any:
    net = parse_cidr(to_str(prefix))
    if net.bits != 32:
        raise FuncError(f"IPv6 addresses cannot have a netmask: {to_str(prefix)}")
    return _ip_str(net.mask(net.plen), 32)


def f_cidrsubnet(ctx: FuncContext, prefix: Any, newbits: Any, netnum: Any) -> Any:
    nb = int_arg(newbits, "newbits")
    num = int_arg(netnum, "netnum")
    net = parse_cidr(to_str(prefix))
    new_len = net.plen + nb
    if new_len > net.bits:
        raise FuncError(f"insufficient address space to extend prefix of {net.plen} by {nb}")
    if nb < 0:
        raise FuncError(f"invalid newbits {nb}: must not be negative")
    max_num = (1 << nb) - 1 if nb < 64 else (1 << 64) - 1
    if abs(num) & ((1 << 64) - 1) > max_num or num < 0:
        raise FuncError(f"prefix extension of {nb} does not accommodate a subnet numbered {num}")
    return str(_Net(net.addr | num << (net.bits - new_len), net.bits, new_len))


def f_cidrsubnets(ctx: FuncContext, prefix: Any, *newbits: Any) -> Any:
    net = parse_cidr(to_str(prefix))
    if not newbits:
        return []
    lengths = [int_arg(n, "newbits") for n in newbits]
    top = (1 << net.bits) - 1
    # The subnet before the first, so that the first "next" subnet starts at the prefix.
    first = net.plen + lengths[0]
    current = _Net(((net.addr - 1) & top) & net.mask(min(first, net.bits)), net.bits, min(first, net.bits))
    out: list[str] = []
    for n in lengths:
        if n < 1:
            raise FuncError("must extend prefix by at least one bit")
        if n > 32:
            raise FuncError("may not extend prefix by more than 32 bits")
        length = n + net.plen
        if length > net.bits:
            proto = "IPv4" if net.bits == 32 else "IPv6"
            raise FuncError(f"would extend prefix to {length} bits, which is too long for an {proto} address")
        sub = _Net(current.last() & net.mask(length), net.bits, length)
        nxt = (sub.last() + 1) & top
        if nxt == 0 or not net.contains(nxt & net.mask(length)):
            raise FuncError(
                "not enough remaining address space for a subnet with a prefix of"
                f" {length} bits after {current}"
            )
        current = _Net(nxt & net.mask(length), net.bits, length)
        out.append(str(current))
    return out


FUNCTIONS: dict[str, Func] = {
    "cidrhost": Func(f_cidrhost, 2, 2),
    "cidrnetmask": Func(f_cidrnetmask, 1, 1),
    "cidrsubnet": Func(f_cidrsubnet, 3, 3),
    "cidrsubnets": Func(f_cidrsubnets, 1, None),
}
