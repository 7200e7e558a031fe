"""Time functions: formatdate, timeadd, timecmp, timestamp, plantimestamp.

Timestamps are RFC 3339 strings. Parsing follows cty's `parseTimestamp` (Go's time.Parse with
the RFC 3339 layout, then cty's stricter checks), so the error messages name the part at fault
as Terraform's do.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

from ...values import UNKNOWN
from ..valueops import to_str
from .base import Func, FuncContext, FuncError, is_applying, plan_time

_NS = 1_000_000_000
_BAD = "not a valid RFC3339 timestamp"


class _ParseError(Exception):
    def __init__(self, layout_elem: str, value_elem: str, message: str = "") -> None:
        super().__init__(layout_elem)
        self.layout_elem, self.value_elem, self.message = layout_elem, value_elem, message


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _isdigit(s: str, i: int) -> bool:
    return i < len(s) and "0" <= s[i] <= "9"


def _getnum(s: str, fixed: bool) -> tuple[int, str]:
    if not _isdigit(s, 0):
        raise ValueError
    if not _isdigit(s, 1):
        if fixed:
            raise ValueError
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in(month: int, year: int) -> int:
    return 29 if month == 2 and _leap(year) else [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def _go_parse(value: str) -> tuple[int, int, int, int, int, int, int, int]:
    """Go's time.Parse(time.RFC3339, value): (year, month, day, hour, min, sec, nsec, offset s)."""
    hold = value

    def skip(prefix: str) -> None:
        nonlocal value
        if not value.startswith(prefix):
            raise _ParseError(prefix, value)
        value = value[len(prefix) :]

    # 2006
    if len(value) < 4 or not all("0" <= c <= "9" for c in value[:4]):
        raise _ParseError("2006", value)
    year, value = int(value[:4]), value[4:]

    def number(layout: str, fixed: bool, valid: range | None, what: str) -> int:
        """One numeric field of the layout, as Go reads it; `valid` bounds it (Go's range errors)."""
        nonlocal value
        hold = value
        try:
            n, value = _getnum(value, fixed)
        except ValueError:
            raise _ParseError(layout, hold) from None
        if valid is not None and n not in valid:
            raise _ParseError(layout, value, f": {what} out of range")
        return n

    skip("-")
    month = number("01", True, range(1, 13), "month")
    skip("-")
    day = number("02", True, None, "day")  # checked against the month below, as Go does
    skip("T")
    hour = number("15", False, range(24), "hour")
    skip(":")
    minute = number("04", True, range(60), "minute")
    skip(":")
    sec = number("05", True, range(60), "second")
    nsec = 0
    if len(value) >= 2 and value[0] in ".," and _isdigit(value, 1):
        n = 2
        while _isdigit(value, n):
            n += 1
        digits = value[1:n][:9]
        nsec = int(digits) * 10 ** (9 - len(digits))
        value = value[n:]
    # Z07:00
    hold = value
    if value.startswith("Z"):
        offset, value = 0, value[1:]
    else:
        if len(value) < 6 or value[3] != ":" or value[0] not in "+-":
            raise _ParseError("Z07:00", hold)
        try:
            hr, _ = _getnum(value[1:3], True)
            mm, _ = _getnum(value[4:6], True)
        except ValueError:
            raise _ParseError("Z07:00", hold) from None
        if hr > 24 or mm > 60:
            raise _ParseError("Z07:00", value[6:], ": time zone offset out of range")
        offset = (hr * 3600 + mm * 60) * (-1 if value[0] == "-" else 1)
        value = value[6:]
    if value:
        raise _ParseError("", value, ": extra text: " + _go_quote(value))
    if day < 1 or day > days_in(month, year):
        raise _ParseError("", value, ": day out of range")
    return year, month, day, hour, minute, sec, nsec, offset


def _strict_rfc3339(s: str) -> tuple[int, int, int, int, int, int, int, int]:
    """cty's parseStrictRFC3339: Go's parse, then what Go lets through but RFC 3339 does not."""
    r = _go_parse(s)
    if s[12] == ":":
        raise _ParseError("15", s[11:12], ": hour must have two digits")
    if s[19] == ",":
        raise _ParseError(".", ",", ": sub-second separator must be a period")
    if s[-1] != "Z":
        if int(s[-5:-3]) >= 24:
            raise _ParseError("Z07:00", s[-6:], ": timezone hour out of range")
        if int(s[-2:]) >= 60:
            raise _ParseError("Z07:00", s[-6:], ": timezone minute out of range")
    return r


_WHAT = {
    "2006": "year",
    "01": "month",
    "02": "day of month",
    "15": "hour",
    "04": "minute",
    "05": "second",
    "Z07:00": "UTC offset",
}


class Time:
    """An instant (nanoseconds since the epoch) with the UTC offset it was written in."""

    __slots__ = ("ns", "offset")

    def __init__(self, ns: int, offset: int) -> None:
        self.ns, self.offset = ns, offset

    def local(self) -> _Wall:
        """The wall-clock time at `offset`, to the second."""
        days, secs = divmod(self.ns // _NS + self.offset, 86400)
        y, m, d = _civil_from_days(days)
        return _Wall(y, m, d, secs // 3600, secs // 60 % 60, secs % 60, (days + 3) % 7)

    def rfc3339(self) -> str:
        w = self.local()
        out = f"{w.year:04d}-{w.month:02d}-{w.day:02d}T{w.hour:02d}:{w.minute:02d}:{w.second:02d}"
        return out + _zone(self.offset, "Z07:00")


class _Wall(NamedTuple):
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    weekday: int  # 0 = Monday


def _zone(offset: int, style: str) -> str:
    if offset == 0 and style == "Z07:00":
        return "Z"
    sign = "-" if offset < 0 else "+"
    h, m = divmod(abs(offset) // 60, 60)
    return f"{sign}{h:02d}:{m:02d}" if style.endswith(":00") else f"{sign}{h:02d}{m:02d}"


def parse_timestamp(s: str) -> Time:
    """cty's parseTimestamp, with its error messages."""
    try:
        y, mo, d, h, mi, sec, nsec, off = _strict_rfc3339(s)
    except _ParseError as e:
        raise FuncError(_message(e)) from None
    days = _days_from_civil(y, mo, d)
    ns = ((days * 86400 + h * 3600 + mi * 60 + sec) - off) * _NS + nsec
    return Time(ns, off)


def _message(e: _ParseError) -> str:
    if not e.layout_elem and not e.value_elem and e.message:
        return _BAD + e.message
    if e.layout_elem == "T":
        return f"{_BAD}: missing required time introducer 'T'"
    if e.layout_elem in (":", "-"):
        if not e.value_elem:
            return f"{_BAD}: end of string where {_go_quote(e.layout_elem)} is expected"
        return f"{_BAD}: found {_go_quote(e.value_elem)} where {_go_quote(e.layout_elem)} is expected"
    what = _WHAT.get(e.layout_elem, "timestamp segment")
    if not e.value_elem:
        return f"{_BAD}: end of string before {what}"
    if what == "hour" and ":" in e.value_elem:
        return f"{_BAD}: hour must be between 0 and 23 inclusive"
    if what == "hour" and len(e.value_elem) != 2:
        return f"{_BAD}: hour must have exactly two digits"
    if what == "minute" and len(e.value_elem) != 2:
        return f"{_BAD}: minute must have exactly two digits"
    return f"{_BAD}: cannot use {_go_quote(e.value_elem)} as {what}"


# ---- formatdate ---------------------------------------------------------------------------

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _tokens(fmt: str) -> list[str]:
    """cty's splitDateFormat: quoted literals, runs of one letter, other characters."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "'":
            if fmt[i + 1 : i + 2] == "'":
                out.append("''")
                i += 2
                continue
            j = i + 1
            while j < len(fmt):
                if fmt[j] == "'":
                    if fmt[j + 1 : j + 2] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(fmt[i : j + 1])
            i = j + 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < len(fmt) and fmt[j] == c:
                j += 1
            out.append(fmt[i:j])
            i = j
        else:
            j = i
            while j < len(fmt) and fmt[j] != "'" and not (fmt[j].isascii() and fmt[j].isalpha()):
                j += 1
            out.append(fmt[i:j])
            i = j
    return out


def _verb(tok: str, t: Time) -> str:
    lt = t.local()
    n, c = len(tok), tok[0]

    def bad(why: str) -> FuncError:
        return FuncError(f"invalid date format verb {_go_quote(tok)}: {why}")

    if c == "Y":
        if n == 2:
            return f"{lt.year % 100:02d}"
        if n == 4:
            return f"{lt.year:04d}"
        raise bad('year must either be "YY" or "YYYY"')
    if c == "M":
        if 1 <= n <= 4:
            return [str(lt.month), f"{lt.month:02d}", _MONTHS[lt.month - 1][:3], _MONTHS[lt.month - 1]][n - 1]
        raise bad('month must be "M", "MM", "MMM", or "MMMM"')
    if c == "D":
        if n in (1, 2):
            return str(lt.day) if n == 1 else f"{lt.day:02d}"
        raise bad('day of month must either be "D" or "DD"')
    if c == "E":
        if n in (3, 4):
            name = _DAYS[lt.weekday]
            return name[:3] if n == 3 else name
        raise bad('day of week must either be "EEE" or "EEEE"')
    if c in "hH":
        h = lt.hour if c == "h" else (lt.hour % 12 or 12)
        if n in (1, 2):
            return str(h) if n == 1 else f"{h:02d}"
        raise bad(f'{"24" if c == "h" else "12"}-hour must either be "{c}" or "{c}{c}"')
    if c in "Aa":
        if n != 2:
            raise bad(f'must be "{c}{c}"')
        s = "AM" if lt.hour < 12 else "PM"
        return s if c == "A" else s.lower()
    if c in "ms":
        v = lt.minute if c == "m" else lt.second
        if n in (1, 2):
            return str(v) if n == 1 else f"{v:02d}"
        raise bad(f'{"minute" if c == "m" else "second"} must either be "{c}" or "{c}{c}"')
    if c == "Z":
        if n == 1:
            return _zone(t.offset, "Z07:00")
        if n == 3:
            return "UTC" if t.offset == 0 else _zone(t.offset, "-0700")
        if n == 4:
            return _zone(t.offset, "-0700")
        if n == 5:
            return _zone(t.offset, "-07:00")
        raise bad("timezone must be Z, ZZZZ, or ZZZZZ")
    raise FuncError(f"invalid date format verb {_go_quote(tok)}")


def f_formatdate(ctx: FuncContext, fmt: Any, ts: Any) -> Any:
    f, t = to_str(fmt), parse_timestamp(to_str(ts))
    out: list[str] = []
    for tok in _tokens(f):
        if tok[0] == "'":
            if tok[-1] != "'" or len(tok) == 1:
                raise FuncError("unterminated literal '")
            out.append("'" if len(tok) == 2 else tok[1:-1].replace("''", "'"))
        elif tok[0].isascii() and tok[0].isalpha():
            out.append(_verb(tok, t))
        else:
            out.append(tok)
    return "".join(out)


# ---- timeadd ------------------------------------------------------------------------------

_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": _NS, "m": 60 * _NS, "h": 3600 * _NS}


def parse_duration(orig: str) -> int:
    """Go's time.ParseDuration, in nanoseconds."""
    s = orig
    invalid = FuncError(f"time: invalid duration {_go_quote(orig)}")
    neg = False
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        i = 0
        while _isdigit(s, i):
            i += 1
        pre, v, s = i > 0, int(s[:i] or "0"), s[i:]
        if v >= 1 << 63:
            raise invalid
        frac, scale, post = 0, 1.0, False
        if s.startswith("."):
            s = s[1:]
            i = 0
            while _isdigit(s, i):
                if frac <= (1 << 63) // 10:
                    frac, scale = frac * 10 + int(s[i]), scale * 10
                i += 1
            post, s = i > 0, s[i:]
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise FuncError(f"time: missing unit in duration {_go_quote(orig)}")
        u, s = s[:i], s[i:]
        if u not in _UNITS:
            raise FuncError(f"time: unknown unit {_go_quote(u)} in duration {_go_quote(orig)}")
        unit = _UNITS[u]
        v = v * unit + (int(float(frac) * (float(unit) / scale)) if frac else 0)
        total += v
        if total > (1 << 63) - 1:
            raise invalid
    return -total if neg else total


def f_timeadd(ctx: FuncContext, ts: Any, dur: Any) -> Any:
    t = parse_timestamp(to_str(ts))
    d = parse_duration(to_str(dur))
    return Time(t.ns + d, t.offset).rfc3339()


def f_timecmp(ctx: FuncContext, a: Any, b: Any) -> Any:
    ta, tb = parse_timestamp(to_str(a)), parse_timestamp(to_str(b))
    return (ta.ns > tb.ns) - (ta.ns < tb.ns)


def f_timestamp(ctx: FuncContext) -> Any:
    if not is_applying():
        return UNKNOWN
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def f_plantimestamp(ctx: FuncContext) -> Any:
    return plan_time().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


FUNCTIONS: dict[str, Func] = {
    "formatdate": Func(f_formatdate, 2, 2),
    "timeadd": Func(f_timeadd, 2, 2),
    "timecmp": Func(f_timecmp, 2, 2),
    "timestamp": Func(f_timestamp, 0, 0),
    "plantimestamp": Func(f_plantimestamp, 0, 0),
}
