"""The errors the inference server turns into HTTP answers or start-up failures."""

from __future__ import annotations

import reprlib

# What an error answer may quote of the request: a value is shown up to SHOW_CHARS characters and
# three levels of nesting, and a whole message is cut at MAX_MESSAGE_CHARS, so an answer stays
# small whatever the request held (a 60 MB string, a list nested 1,000 deep).
SHOW_CHARS = 200
MAX_MESSAGE_CHARS = 1000

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = SHOW_CHARS
_REPR.maxother = SHOW_CHARS
_REPR.maxlist = 10
_REPR.maxdict = 10
_REPR.maxlong = 50


def show(value: object) -> str:
    """``repr(value)`` for an error message: bounded in length and depth (reprlib never recurses
    further than ``maxlevel``), whatever the value."""
    text = _REPR.repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def _echo(value: object) -> object:
    """A request value as the error answer echoes it: small scalars as they are, else shown."""
    if value is None or isinstance(value, (bool, int, float)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 63:
            return show(value)
        return value
    if isinstance(value, str) and len(value) <= SHOW_CHARS:
        return value
    return show(value)


class ModelLoadError(Exception):
    """The model directory cannot be served (missing metadata, unknown framework, bad file)."""


class RequestError(Exception):
    """A request the server refuses; carries the HTTP status and a message that says what to fix."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        row: int | None = None,
        row_index: object = None,
        column: int | None = None,
    ) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        super().__init__(message)
        self.status = status
        self.message = message
        self.row = row
        self.row_index = row_index
        self.column = column

    def to_json(self) -> dict[str, object]:
        """The JSON body of the error answer: the message plus where in the request it is."""
        body: dict[str, object] = {"error": self.message, "code": self.status}
        if self.row is not None:
            body["row"] = self.row
            body["row_index"] = _echo(self.row_index)
        if self.column is not None:
            body["column"] = self.column
        return body
