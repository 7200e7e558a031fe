"""The errors the inference server turns into HTTP answers or start-up failures."""

from __future__ import annotations


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
            body["row_index"] = self.row_index
        if self.column is not None:
            body["column"] = self.column
        return body
