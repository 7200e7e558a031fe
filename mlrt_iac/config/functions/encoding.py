"""Encoding and hashing: base64, base64gzip, text encodings, URL, CSV, YAML; sha256, sha1, md5."""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import math
import re
import struct
import urllib.parse
import zlib
from decimal import Decimal
from typing import Any

from ..valueops import (
    HclSet,
    norm_number,
    to_str,
)
from .base import Func, FuncContext, FuncError


def f_base64decode(ctx: FuncContext, s: Any) -> Any:
    try:
        return base64.b64decode(to_str(s), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise FuncError("the argument is not valid base64 of UTF-8 text") from None


def f_base64gzip(ctx: FuncContext, s: Any) -> Any:
    """Gzip as Go's compress/gzip writes it (no name, no time, OS "unknown"), flushed and closed
    as Terraform does, then base64."""
    data = to_str(s).encode()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH) + b"\x01\x00\x00\xff\xff"
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return base64.b64encode(header + body + trailer).decode()


def f_urlencode(ctx: FuncContext, s: Any) -> Any:
    return urllib.parse.quote_plus(to_str(s), safe="")


# ---- text encodings -----------------------------------------------------------------------

# IANA names of the codecs, for messages (Python's codec names differ).
_IANA_NAMES = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
    "utf-16": "UTF-16",
    "utf-32": "UTF-32",
    "utf-32-le": "UTF-32LE",
    "utf-32-be": "UTF-32BE",
    "ascii": "US-ASCII",
    "latin-1": "ISO-8859-1",
    "iso8859-1": "ISO-8859-1",
    "cp437": "IBM437",
    "cp850": "IBM850",
    "cp866": "IBM866",
    "gbk": "GBK",
    "gb18030": "GB18030",
    "big5": "Big5",
    "shift_jis": "Shift_JIS",
    "euc_jp": "EUC-JP",
    "euc_kr": "EUC-KR",
    "iso2022_jp": "ISO-2022-JP",
    "koi8-r": "KOI8-R",
    "koi8-u": "KOI8-U",
    "mac-roman": "macintosh",
}


def _encoding(name: str) -> tuple[str, str]:
    """(Python codec, IANA name) for an IANA encoding name or alias."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True) or name.lower() in ("mbcs", "oem"):
        raise FuncError(
            f"{_quote(name)} is not a supported IANA encoding name or alias in this Terraform version"
        )
    py = info.name
    if py.startswith("cp125"):
        return py, "windows-" + py[2:]
    if py.startswith("iso8859-"):
        return py, "ISO-8859-" + py[8:]
    return py, _IANA_NAMES.get(py, name)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def f_textencodebase64(ctx: FuncContext, s: Any, enc: Any) -> Any:
    py, iana = _encoding(to_str(enc))
    text = to_str(s)
    try:
        raw = b"\xfe\xff" + text.encode("utf-16-be") if py == "utf-16" else text.encode(py)
    except UnicodeEncodeError:
        raise FuncError(
            f"the given string contains characters that cannot be represented in {iana}"
        ) from None
    return base64.b64encode(raw).decode()


_B64 = re.compile(r"[A-Za-z0-9+/]")


def _b64_strict(s: str) -> bytes:
    """Go's base64.StdEncoding.DecodeString, with its error offset."""
    clean = s.replace("\r", "").replace("\n", "")
    for i, c in enumerate(clean):
        if not _B64.match(c):
            if c == "=" and len(clean) % 4 == 0 and i >= len(clean) - 2 and clean[i:] in ("=", "=="):
                break
            raise FuncError(f"the given value has an invalid base64 symbol at offset {i}")
    if len(clean) % 4:
        raise FuncError(f"the given value has an invalid base64 symbol at offset {len(clean) // 4 * 4}")
    try:
        return base64.b64decode(clean, validate=True)
    except (ValueError, binascii.Error):
        raise FuncError("invalid source string: illegal base64 data") from None


def f_textdecodebase64(ctx: FuncContext, s: Any, enc: Any) -> Any:
    py, iana = _encoding(to_str(enc))
    raw = _b64_strict(to_str(s))
    try:
        out = raw.decode(py)
    except UnicodeDecodeError:
        raise FuncError(f"the given string contains symbols that are not defined for {iana}") from None
    if "\ufffd" in out:
        raise FuncError(f"the given string contains symbols that are not defined for {iana}")
    return out


# ---- csvdecode ----------------------------------------------------------------------------


class _CsvError(Exception):
    def __init__(self, line: int, msg: str) -> None:
        super().__init__(f"CSV parse error on line {line}: {msg}")


def _csv_records(text: str) -> list[tuple[int, list[str]]]:
    """Go's encoding/csv reader with its defaults (RFC 4180, no lazy quotes)."""
    out: list[tuple[int, list[str]]] = []
    i, n, line = 0, len(text), 1

    def at_eol(j: int) -> bool:
        return j >= n or text[j] == "\n" or text.startswith("\r\n", j)

    while i < n:
        if at_eol(i):
            i += 2 if text.startswith("\r\n", i) else 1
            line += 1
            continue
        rec_line, fields = line, []
        while True:
            if i < n and text[i] == '"':
                i += 1
                buf: list[str] = []
                while True:
                    if i >= n:
                        raise _CsvError(line, 'extraneous or missing " in quoted-field')
                    c = text[i]
                    if c == '"':
                        if text[i + 1 : i + 2] == '"':
                            buf.append('"')
                            i += 2
                            continue
                        i += 1
                        if i < n and text[i] == ",":
                            break
                        if at_eol(i):
                            break
                        raise _CsvError(line, 'extraneous or missing " in quoted-field')
                    if text.startswith("\r\n", i):
                        buf.append("\n")
                        i += 2
                        line += 1
                        continue
                    if c == "\n":
                        line += 1
                    buf.append(c)
                    i += 1
                fields.append("".join(buf))
            else:
                j = i
                while j < n and text[j] != "," and not at_eol(j):
                    if text[j] == '"':
                        raise _CsvError(line, 'bare " in non-quoted-field')
                    j += 1
                fields.append(text[i:j])
                i = j
            if i < n and text[i] == ",":
                i += 1
                continue
            if i < n:
                i += 2 if text.startswith("\r\n", i) else 1
                line += 1
            break
        out.append((rec_line, fields))
    return out


def f_csvdecode(ctx: FuncContext, s: Any) -> Any:
    try:
        records = _csv_records(to_str(s))
    except _CsvError as e:
        raise FuncError(str(e)) from None
    if not records:
        raise FuncError("missing header line")
    headers = records[0][1]
    seen: set[str] = set()
    for h in headers:
        if h in seen:
            raise FuncError(f"duplicate column name {_quote(h)}")
        seen.add(h)
    rows = []
    for line, fields in records[1:]:
        if len(fields) != len(headers):
            raise FuncError(f"CSV parse error on line {line}: wrong number of fields")
        rows.append(dict(zip(headers, fields)))
    return rows


# ---- YAML ---------------------------------------------------------------------------------


def _yaml() -> Any:
    import yaml

    return yaml


_YAML_BOOLS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_YAML_NULLS = ("", "~", "null", "Null", "NULL")
_YAML_INT = re.compile(r"\A(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_YAML_FLOAT = re.compile(r"\A[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_YAML_TS = re.compile(
    r"\A(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:([Tt])| )(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?\Z"
)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TAGS = {
    "": "",
    "!": "",
    "!!str": _STR_TAG,
    "!!bool": "tag:yaml.org,2002:bool",
    "!!int": "tag:yaml.org,2002:int",
    "!!float": "tag:yaml.org,2002:float",
    "!!null": "tag:yaml.org,2002:null",
    "!!timestamp": "tag:yaml.org,2002:timestamp",
    "!!binary": "tag:yaml.org,2002:binary",
}


def _yaml_number(src: str) -> Any:
    plain = src.replace("_", "")
    if re.fullmatch(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", plain):
        d = Decimal(plain)
        return (
            int(d)
            if d == d.to_integral_value() and "e" not in plain.lower() and "." not in plain
            else norm_number(float(d))
        )
    try:
        return int(plain, 0)
    except ValueError:
        if re.fullmatch(r"[-+]?0[0-7]+", plain):
            return int(plain, 8)
        raise


def _yaml_timestamp(src: str) -> str | None:
    m = _YAML_TS.match(src)
    if not m:
        return None
    y, mo, d, t, h, mi, s, z = m.groups()
    if h is None:
        h = mi = s = "0"
    if t is None and h is not None and z is not None and m.group(4) is None and " " in src:
        return None  # "2006-1-2 15:4:5" takes no zone
    try:
        from .dates import days_in

        if not (1 <= int(mo) <= 12 and 1 <= int(d) <= days_in(int(mo), int(y))):
            return None
        if int(h) > 23 or int(mi) > 59 or int(s) > 59:
            return None
    except ValueError:
        return None
    zone = "Z" if z in (None, "Z", "+00:00", "-00:00") else z
    return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}T{int(h):02d}:{int(mi):02d}:{int(s):02d}{zone}"


def _yaml_scalar(tag: str, src: str, quoted: bool) -> Any:
    tag = _TAGS.get(tag, tag)
    if tag not in _TAGS.values():
        raise FuncError(f"unsupported tag {_quote(tag)}")
    hint = "N" if not src else src[0]
    resolvable = hint in "+-0123456789yYnNtTfFoO~." or hint == "N" and not src
    if resolvable and tag not in (_STR_TAG, "tag:yaml.org,2002:binary"):
        if quoted:
            return src
        if src in _YAML_BOOLS:
            return _YAML_BOOLS[src]
        if src in _YAML_NULLS:
            return None
        if src in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"):
            return math.inf
        if src in ("-.inf", "-.Inf", "-.INF"):
            return -math.inf
        if tag == "" and src in (".nan", ".NaN", ".NAN"):
            raise FuncError("floating point NaN is not supported")
        if hint == ".":
            if _YAML_FLOAT.match(src):
                return _yaml_number(src)
        elif hint in "+-0123456789":
            if tag in ("", "tag:yaml.org,2002:timestamp"):
                ts = _yaml_timestamp(src)
                if ts is not None:
                    return ts
            if _YAML_INT.match(src) or _YAML_FLOAT.match(src):
                tag = "tag:yaml.org,2002:int"
    if tag in (_STR_TAG, "tag:yaml.org,2002:binary", ""):
        if tag.endswith("binary"):
            try:
                base64.b64decode(src, validate=True)
            except (ValueError, binascii.Error):
                raise FuncError(f"cannot parse {_quote(src)} as {tag}: not valid base64") from None
        return src
    if tag.endswith(":bool"):
        if src not in _YAML_BOOLS:
            raise FuncError(f"cannot parse {_quote(src)} as {tag}")
        return _YAML_BOOLS[src]
    if tag.endswith(":int") or tag.endswith(":float"):
        try:
            return _yaml_number(src)
        except ValueError:
            raise FuncError(f"cannot parse {_quote(src)} as {tag}") from None
    if tag.endswith(":timestamp"):
        ts = _yaml_timestamp(src)
        if ts is None:
            raise FuncError(f"cannot parse {_quote(src)} as {tag}")
        return ts
    return None  # null


def _at(mark: Any) -> str:
    """go-cty-yaml's position prefix: libyaml's 0-based line as is, 1-based column; none on the
    first line."""
    if mark is None or mark.line == 0:
        return ""
    return f"on line {mark.line}, column {mark.column + 1}: "


def _yaml_syntax_error(yaml: Any, e: Any) -> FuncError:
    problem = getattr(e, "problem", None) or "invalid YAML syntax"
    pm, cm = getattr(e, "problem_mark", None), getattr(e, "context_mark", None)
    if pm is not None and pm.line != 0:
        line, column = pm.line, pm.column
        if isinstance(e, yaml.scanner.ScannerError):
            line, column = line + 1, 0
        return FuncError(f"on line {line}, column {column + 1}: {problem}")
    return FuncError(_at(cm) + problem)


def f_yamldecode(ctx: FuncContext, s: Any) -> Any:
    """go-cty-yaml's decoding, over PyYAML's (libyaml's) parser events."""
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    stream = iter(yaml.parse(to_str(s), Loader=loader))
    anchors: dict[str, Any] = {}
    pending: set[str] = set()

    def next_event() -> Any:
        try:
            return next(stream)
        except yaml.YAMLError as e:
            raise _yaml_syntax_error(yaml, e) from None

    def scalar(ev: Any) -> Any:
        try:
            return _yaml_scalar(ev.tag or "", ev.value, ev.style in ("'", '"'))
        except FuncError as e:
            raise FuncError(_at(ev.start_mark) + str(e)) from None

    def value(ev: Any) -> Any:
        if isinstance(ev, yaml.AliasEvent):
            if ev.anchor in pending:
                raise FuncError(
                    _at(ev.start_mark)
                    + f"cannot refer to anchor {_quote(ev.anchor)} from inside its own definition"
                )
            if ev.anchor not in anchors:
                raise FuncError(_at(ev.start_mark) + f"reference to undefined anchor {_quote(ev.anchor)}")
            return anchors[ev.anchor]
        anchor = getattr(ev, "anchor", None)
        if anchor:
            pending.add(anchor)
        if isinstance(ev, yaml.ScalarEvent):
            v = scalar(ev)
        elif isinstance(ev, yaml.SequenceStartEvent):
            items = []
            while not isinstance(nxt := next_event(), yaml.SequenceEndEvent):
                items.append(value(nxt))
            v = items
        elif isinstance(ev, yaml.MappingStartEvent):
            out: dict[str, Any] = {}
            while not isinstance(k_ev := next_event(), yaml.MappingEndEvent):
                if isinstance(k_ev, yaml.ScalarEvent) and (
                    (not k_ev.tag and k_ev.value == "<<") or k_ev.tag in ("!!merge", _MERGE_TAG)
                ):
                    merged = value(next_event())
                    for m in merged if isinstance(merged, list) else [merged]:
                        if not isinstance(m, dict):
                            raise FuncError(
                                _at(k_ev.start_mark) + "cannot merge a non-mapping into a mapping"
                            )
                        out.update(m)
                    continue
                if not isinstance(k_ev, yaml.ScalarEvent):
                    raise FuncError(_at(k_ev.start_mark) + "only strings are allowed as mapping keys")
                k = scalar(k_ev)
                if k is None:
                    raise FuncError(_at(k_ev.start_mark) + "mapping key cannot be null")
                if isinstance(k, (dict, list)):
                    raise FuncError(_at(k_ev.start_mark) + "only strings are allowed as mapping keys")
                out[to_str(k)] = value(next_event())
            v = out
        else:
            raise FuncError(_at(ev.start_mark) + "unexpected parser event")
        if anchor:
            pending.discard(anchor)
            anchors[anchor] = v
        return v

    next_event()  # stream start
    ev = next_event()
    if not isinstance(ev, yaml.DocumentStartEvent):
        raise FuncError(_at(ev.start_mark) + "missing start of document")
    v = value(next_event())
    ev = next_event()
    if isinstance(ev, yaml.DocumentStartEvent):
        raise FuncError(_at(ev.start_mark) + "only a single document is allowed")
    ev = next_event()
    if not isinstance(ev, yaml.StreamEndEvent):
        raise FuncError(_at(ev.start_mark) + "unexpected extra content after value")
    return v


def _yaml_events(v: Any, yaml: Any, out: list[Any]) -> None:
    if v is None:
        out.append(yaml.ScalarEvent(None, None, (True, True), "null", style=None))
    elif isinstance(v, bool):
        out.append(yaml.ScalarEvent(None, None, (True, True), "true" if v else "false", style=None))
    elif isinstance(v, (int, float)):
        text = str(v) if isinstance(v, int) else format(Decimal(repr(v)), "f")
        out.append(yaml.ScalarEvent(None, None, (True, True), text, style=None))
    elif isinstance(v, str):
        style = "|" if "\n" in v else '"'
        out.append(yaml.ScalarEvent(None, None, (True, True), v, style=style))
    elif isinstance(v, list):
        out.append(yaml.SequenceStartEvent(None, None, True, flow_style=False))
        for x in v:
            _yaml_events(x, yaml, out)
        out.append(yaml.SequenceEndEvent())
    elif isinstance(v, dict):
        out.append(yaml.MappingStartEvent(None, None, True, flow_style=False))
        for k in sorted(v):
            _yaml_events(str(k), yaml, out)
            _yaml_events(v[k], yaml, out)
        out.append(yaml.MappingEndEvent())
    else:
        raise FuncError(f"cannot serialize {type(v).__name__} as YAML")


def f_yamlencode(ctx: FuncContext, v: Any) -> Any:
    yaml = _yaml()
    events: list[Any] = [yaml.StreamStartEvent(encoding=None), yaml.DocumentStartEvent(explicit=False)]
    _yaml_events(list(v) if isinstance(v, HclSet) else v, yaml, events)
    events += [yaml.DocumentEndEvent(explicit=False), yaml.StreamEndEvent()]

    # PyYAML's own emitter, a port of the libyaml that go-cty-yaml ports too (libyaml's newer C
    # emitter no longer ends a plain scalar document with "..."). Like go-cty-yaml's, it never
    # takes an empty string for an empty document (which would start it with "---").
    class _Dumper(yaml.Dumper):  # type: ignore[name-defined]
        def check_empty_document(self) -> bool:
            return False

    return yaml.emit(events, Dumper=_Dumper, allow_unicode=True)


FUNCTIONS: dict[str, Func] = {
    "base64encode": Func(lambda ctx, s: base64.b64encode(to_str(s).encode()).decode(), 1, 1),
    "base64decode": Func(f_base64decode, 1, 1),
    "base64gzip": Func(f_base64gzip, 1, 1),
    "textencodebase64": Func(f_textencodebase64, 2, 2),
    "textdecodebase64": Func(f_textdecodebase64, 2, 2),
    "urlencode": Func(f_urlencode, 1, 1),
    "csvdecode": Func(f_csvdecode, 1, 1),
    "yamldecode": Func(f_yamldecode, 1, 1),
    "yamlencode": Func(f_yamlencode, 1, 1),
    "sha256": Func(lambda ctx, s: hashlib.sha256(to_str(s).encode()).hexdigest(), 1, 1),
    "sha1": Func(lambda ctx, s: hashlib.sha1(to_str(s).encode()).hexdigest(), 1, 1),
    "md5": Func(lambda ctx, s: hashlib.md5(to_str(s).encode()).hexdigest(), 1, 1),
}
