"""Encoding and hashing: base64, sha256, sha1, md5."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ..valueops import (
    to_str,
)
from .base import Func, FuncContext, FuncError


def f_base64decode(ctx: FuncContext, s: Any) -> Any:
    try:
        return base64.b64decode(to_str(s), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise FuncError("the argument is not valid base64 of UTF-8 text") from None


FUNCTIONS: dict[str, Func] = {
    "base64encode": Func(lambda ctx, s: base64.b64encode(to_str(s).encode()).decode(), 1, 1),
    "base64decode": Func(f_base64decode, 1, 1),
    "sha256": Func(lambda ctx, s: hashlib.sha256(to_str(s).encode()).hexdigest(), 1, 1),
    "sha1": Func(lambda ctx, s: hashlib.sha1(to_str(s).encode()).hexdigest(), 1, 1),
    "md5": Func(lambda ctx, s: hashlib.md5(to_str(s).encode()).hexdigest(), 1, 1),
}
