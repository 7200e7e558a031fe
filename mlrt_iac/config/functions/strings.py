"""String functions: format, join, split, replace, regex, trim..."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from ...values import UNKNOWN, Sensitive
from .. import ast as A
from ..valueops import (
    format_number,
    to_bool,
    to_json_value,
    to_number,
    to_str,
)
from .base import Func, FuncContext, FuncError, Syntax, int_arg, list_arg, on_str, on_strs, rendering

_FMT_RE = re.compile(r"%(?:(\[\d+\]))?([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def f_format(ctx: FuncContext, spec: Any, *args: Any) -> Any:
    fmt = to_str(spec)
    pos = 0

    def rep(m: re.Match[str]) -> str:
        nonlocal pos
        idx, flags, width, prec, verb = m.groups()
        if verb == "%":
            return "%"
        if idx:
            pos = int(idx[1:-1]) - 1
            if pos < 0:
                raise FuncError(f"invalid argument index [0] in {fmt!r}: indexes count from 1")
        if pos >= len(args):
            raise FuncError(f"not enough arguments for format string {fmt!r}")
        v = args[pos]
        pos += 1
        w = width or ""
        p = f".{prec}" if prec else ""
        if verb in "dbox X".replace(" ", ""):
            n = to_number(v, "format argument")
            if not isinstance(n, int):
                raise FuncError(f"%{verb} requires an integer, got {format_number(n)}")
            return ("%" + flags + w + verb) % n if verb != "b" else format(n, "b").rjust(int(w or 0))
        if verb in "feEgG":
            return ("%" + flags + w + p + verb) % float(to_number(v, "format argument"))
        if verb == "t":
            return ("%" + flags + w + "s") % ("true" if to_bool(v) else "false")
        if verb == "q":
            return ("%" + flags + w + "s") % json.dumps(to_str(v))
        if verb in "sv":
            if isinstance(v, (dict, list)) and verb == "v":
                sv = json.dumps(to_json_value(v), separators=(",", ":"))
            else:
                sv = to_str(v, "format argument")
            if prec:
                sv = sv[: int(prec)]
            return ("%" + flags + w + "s") % sv
        raise FuncError(f"unsupported format verb %{verb}")

    return _FMT_RE.sub(rep, fmt)


def f_formatlist(ctx: FuncContext, spec: Any, *args: Any) -> Any:
    n = None
    for a in args:
        if isinstance(a, list):
            if n is not None and len(a) != n:
                raise FuncError("all list arguments must have the same length")
            n = len(a)
    if n is None:
        return [f_format(ctx, spec, *args)]
    return [f_format(ctx, spec, *[a[i] if isinstance(a, list) else a for a in args]) for i in range(n)]


def f_join(ctx: FuncContext, sep: Any, *lists: Any) -> Any:
    return to_str(sep).join(to_str(x, "list element") for lst in lists for x in list_arg(lst))


def f_split(ctx: FuncContext, sep: Any, s: Any) -> Any:
    ss = to_str(s)
    if ss == "":
        return [""]
    return ss.split(to_str(sep)) if to_str(sep) else list(ss)


def f_replace(ctx: FuncContext, s: Any, sub: Any, rep: Any) -> Any:
    ss, pat, r = to_str(s), to_str(sub), to_str(rep)
    if len(pat) >= 2 and pat.startswith("/") and pat.endswith("/"):
        return _compile(pat[1:-1]).sub(re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", r), ss)
    return ss.replace(pat, r)


def f_substr(ctx: FuncContext, s: Any, off: Any, length: Any) -> Any:
    ss, o, n = to_str(s), int_arg(off), int_arg(length)
    if o < 0:
        o = max(len(ss) + o, 0)
    if o > len(ss):
        raise FuncError("offset is greater than the length of the string")
    return ss[o:] if n < 0 else ss[o : o + n]


@cache
def _re2() -> tuple[Any, Any]:
    """The re2 module and its options, imported on first use (it costs start-up time)."""
    import re2

    options = re2.Options()
    options.log_errors = False  # errors are ours to report, not RE2's to print on stderr
    return re2, options


def _compile(p: Any) -> Any:
    """An RE2 pattern, as Terraform's regex functions use (Go's regexp is RE2): matching takes
    linear time, so a pattern such as (a+)+$ cannot hang `validate` on a hostile input."""
    re2, options = _re2()
    try:
        return re2.compile(to_str(p), options)
    except re2.error as e:
        why = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise FuncError(f"invalid regular expression: {why}") from None


def _match_value(m: Any) -> Any:
    if m.re.groupindex:
        return {k: m.group(k) for k in m.re.groupindex}
    if m.re.groups:
        return list(m.groups())
    return m.group(0)


def f_regex(ctx: FuncContext, p: Any, s: Any) -> Any:
    m = _compile(p).search(to_str(s))
    if not m:
        raise FuncError("pattern did not match any part of the given string")
    return _match_value(m)


def f_regexall(ctx: FuncContext, p: Any, s: Any) -> Any:
    out = []
    last_end = -1
    for m in _compile(p).finditer(to_str(s)):
        if m.start() == m.end() == last_end:
            continue  # Go's FindAll ignores an empty match abutting the previous match
        out.append(_match_value(m))
        last_end = m.end()
    return out


def f_trim(ctx: FuncContext, s: Any, chars: Any) -> Any:
    return to_str(s).strip(to_str(chars))


def f_title(ctx: FuncContext, s: Any) -> Any:
    return re.sub(r"\b(\w)", lambda m: m.group(1).upper(), to_str(s))


_TRAILING_NEWLINES = re.compile(r"(?:\r\n?|\n)*\Z")


def f_chomp(ctx: FuncContext, s: Any) -> Any:
    return _TRAILING_NEWLINES.sub("", to_str(s), count=1)


def f_indent(ctx: FuncContext, n: Any, s: Any) -> Any:
    return to_str(s).replace("\n", "\n" + " " * max(int_arg(n, "spaces"), 0))


def _reference(e: A.Expr) -> bool:
    """A reference (possibly indexed or splatted): what templatestring's template must be."""
    if isinstance(e, A.Traversal):
        return True
    if isinstance(e, (A.Relative, A.Splat)):
        return _reference(e.source)
    return False


def f_templatestring(ctx: FuncContext, template: Syntax, variables: Any) -> Any:
    e = template.expr
    bad = "invalid template expression: "
    if isinstance(e, A.Template) and len(e.parts) == 1 and not isinstance(e.parts[0], str):
        raise FuncError(
            bad + "templatestring is only for rendering templates retrieved dynamically from"
            " elsewhere; to treat the inner expression as template syntax, write the reference"
            " expression directly without any template interpolation syntax"
        )
    # HCL splits a quoted string at an escaped "$${" (so it is a template of several parts, not
    # a literal), but not at "%%{".
    if isinstance(e, A.Literal) and isinstance(e.value, str) and "${" not in e.value:
        raise FuncError(
            bad + "templatestring is only for rendering templates retrieved dynamically from"
            " elsewhere, and so does not support providing a literal template; consider using a"
            " template string expression instead"
        )
    if isinstance(e, A.Template) or (isinstance(e, A.Literal) and isinstance(e.value, str)):
        raise FuncError(
            bad + "templatestring is only for rendering templates retrieved dynamically from"
            " elsewhere; to render an inline template, consider using a plain template string"
            " expression"
        )
    if not _reference(e):
        raise FuncError(
            bad + "must be a direct reference to a single string from elsewhere, containing valid"
            " Terraform template syntax"
        )
    value = ctx.eval(e, template.scope)
    if value is UNKNOWN:
        return UNKNOWN
    sensitive = isinstance(value, Sensitive)
    if sensitive:
        value = value.value
    if not isinstance(value, str):
        raise FuncError("invalid template value: a string is required")
    if not isinstance(variables, dict):
        raise FuncError("invalid vars value: must be a map")
    with rendering("templatestring"):
        out = ctx.render_template(value, variables, "<templatestring argument>")
    if out is UNKNOWN:
        return UNKNOWN
    if isinstance(out, Sensitive):
        sensitive, out = True, out.value
    if out is None:
        raise FuncError(
            "<templatestring argument>:1: Template result is null; The result of the template is"
            " null, which is not a valid result for a templatestring call."
        )
    if isinstance(out, (list, dict)):
        kind = "tuple" if isinstance(out, list) else "object"
        raise FuncError(f"invalid template result: string required, but have {kind}")
    out = to_str(out)
    return Sensitive(out) if sensitive else out


FUNCTIONS: dict[str, Func] = {
    "format": Func(f_format, 1, None),
    "formatlist": Func(f_formatlist, 1, None),
    "join": Func(f_join, 2, None),
    "split": Func(f_split, 2, 2),
    "upper": Func(on_str(str.upper), 1, 1),
    "lower": Func(on_str(str.lower), 1, 1),
    "title": Func(f_title, 1, 1),
    "replace": Func(f_replace, 3, 3),
    "trimspace": Func(on_str(str.strip), 1, 1),
    "trim": Func(f_trim, 2, 2),
    "trimprefix": Func(on_strs(lambda s, p: s[len(p) :] if p and s.startswith(p) else s), 2, 2),
    "trimsuffix": Func(on_strs(lambda s, p: s[: -len(p)] if p and s.endswith(p) else s), 2, 2),
    "startswith": Func(on_strs(str.startswith), 2, 2),
    "endswith": Func(on_strs(str.endswith), 2, 2),
    "strcontains": Func(on_strs(lambda s, p: p in s), 2, 2),
    "strrev": Func(on_str(lambda s: s[::-1]), 1, 1),
    "substr": Func(f_substr, 3, 3),
    "regex": Func(f_regex, 2, 2),
    "regexall": Func(f_regexall, 2, 2),
    "chomp": Func(f_chomp, 1, 1),
    "indent": Func(f_indent, 2, 2),
    "templatestring": Func(f_templatestring, 2, 2, syntax_args=(0,)),
}
