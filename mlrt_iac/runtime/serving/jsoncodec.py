"""JSON encoding and decoding: orjson when installed (5x faster parsing), else the standard library."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

loads: Callable[[bytes], Any]
dumps: Callable[[Any], bytes]

try:
    import orjson

    loads = orjson.loads
    dumps = orjson.dumps  # NaN and infinities become null, which keeps the answer valid JSON
    JSONDecodeError: type[ValueError] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - orjson is installed with the project

    def loads(data: bytes) -> Any:
        return json.loads(data)

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    JSONDecodeError = json.JSONDecodeError
