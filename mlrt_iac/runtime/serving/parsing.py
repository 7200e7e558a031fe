"""Turn a Snowflake service-function body into row indexes and one feature matrix, or a 400.

The fast path is vectorised: one JSON parse and one ``numpy.array`` call over the rows. Only when
that cannot be trusted (ragged rows, non-numbers, booleans, nulls, strings) does the slow path walk
the rows, to build the matrix with nulls as missing values (NaN) or to name the first bad row and
column in the error.

Bounded whatever the body: more rows than ``max_rows`` (default DEFAULT_MAX_REQUEST_ROWS) are a
413 before the JSON is parsed (each row is a list, so the body's ``[`` count bounds the rows at
no cost, where parsing 1e6 rows would take ~800 MB); nesting deeper than the format's
object -> rows -> values is a 400 naming the row and column (the JSON parser refuses beyond 1,024
levels); an error message quotes at most SHOW_CHARS characters of any value.

Custom models' methods take typed rows instead (``parse_table_request``): per column a number, a
string, a boolean or null as the column's kind says (``custom.column_kind``), kept as Python values
in an object matrix; a value of another type is a 400 naming the row, the column and the type the
column takes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlrt_iac.runtime.serving import jsoncodec
from mlrt_iac.runtime.serving.config import DEFAULT_MAX_REQUEST_ROWS
from mlrt_iac.runtime.serving.errors import SHOW_CHARS, RequestError, show

FORMAT_HINT = 'The body must be a JSON object {"data": [[row_index, col1, col2, ...], ...]}.'


@dataclass
class ParsedRequest:
    """Row indexes echoed as given, and the features of every row as one matrix."""

    row_indexes: list[Any]
    features: np.ndarray


def parse_request(
    body: bytes, input_cols: list[str], dtype: type = np.float64, max_rows: int | None = None
) -> ParsedRequest:
    """Parse and validate ``body``; raise RequestError (400 or 413) naming the row and column.

    ``max_rows`` None means DEFAULT_MAX_REQUEST_ROWS: there is always a cap.
    """
    if max_rows is None:
        max_rows = DEFAULT_MAX_REQUEST_ROWS
    rows = _rows_of(body, max_rows)
    n_cols = len(input_cols)
    if not rows:
        return ParsedRequest([], np.empty((0, n_cols), dtype=dtype))
    fast = _fast_matrix(body, rows, n_cols, dtype)
    if fast is not None:
        return ParsedRequest([row[0] for row in rows], fast)
    return _slow_parse(rows, input_cols, dtype)


def _rows_of(body: bytes, max_rows: int) -> list[Any]:
    """The "data" rows of a body (not yet checked one by one), or a RequestError."""
    # every row is a list of at least 2 bytes ("[]") plus a comma: a body shorter than that for
    # max_rows + 1 rows needs no count, and a longer one is bounded by its '[' count before it is
    # parsed (a '[' inside a string would make the body invalid anyway)
    if len(body) > 3 * max_rows and body.count(b"[") > max_rows + 1:
        raise RequestError(413, _too_many_rows(f"more than {max_rows}", max_rows))
    try:
        doc = jsoncodec.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestError(
            400, f"The body is not valid JSON ({str(exc)[:SHOW_CHARS]}). {FORMAT_HINT}"
        ) from exc
    if not isinstance(doc, dict) or "data" not in doc:
        raise RequestError(400, f'The body has no "data" member. {FORMAT_HINT}')
    rows = doc["data"]
    if not isinstance(rows, list):
        raise RequestError(400, f'"data" must be a list of rows. {FORMAT_HINT}')
    if len(rows) > max_rows:
        raise RequestError(413, _too_many_rows(str(len(rows)), max_rows))
    return rows


def parse_table_request(
    body: bytes, input_cols: list[str], kinds: Sequence[str], max_rows: int | None = None
) -> ParsedRequest:
    """Typed rows for a custom model's method: ``features`` is an object matrix (rows x columns)
    of numbers, strings, booleans and None, each checked against its column's kind ("number",
    "string", "bool", "any"); RequestError (400, 413) naming the row and column otherwise."""
    if max_rows is None:
        max_rows = DEFAULT_MAX_REQUEST_ROWS
    rows = _rows_of(body, max_rows)
    n_cols = len(input_cols)
    matrix = np.empty((len(rows), n_cols), dtype=object)
    indexes: list[Any] = []
    for i, row in enumerate(rows):
        row_index = _check_row(i, row, input_cols)
        for j, value in enumerate(row[1:], start=1):
            kind = kinds[j - 1] if j - 1 < len(kinds) else "any"
            if value is None or _fits(value, kind):
                matrix[i, j - 1] = value
                continue
            raise RequestError(
                400,
                f"Row {i} (row_index {show(row_index)}), column {j} ({input_cols[j - 1]}): "
                f"{show(value)} is {_what(value)}; the column takes {_KIND_TEXT.get(kind, kind)} or null.",
                row=i,
                row_index=row_index,
                column=j,
            )
        indexes.append(row_index)
    return ParsedRequest(indexes, matrix)


_KIND_TEXT = {
    "number": "a number",
    "string": "a string",
    "bool": "a boolean",
    "any": "a number, string or boolean",
}


def _fits(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, (int, float, str, bool))


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list (values must be scalars)"
    if isinstance(value, dict):
        return "an object (values must be scalars)"
    return type(value).__name__


def _check_row(i: int, row: Any, input_cols: list[str]) -> Any:
    """The row index of a well-formed row (a list of the index and one value per column)."""
    n_cols = len(input_cols)
    if not isinstance(row, list):
        raise RequestError(
            400, f"Row {i} is not a list: each row must be [row_index, {n_cols} values].", row=i
        )
    row_index = row[0] if row else None
    if len(row) != n_cols + 1:
        raise RequestError(
            400,
            f"Row {i} (row_index {show(row_index)}) has {max(len(row) - 1, 0)} values after the "
            f"row index; the model takes {n_cols} ({', '.join(input_cols)}).",
            row=i,
            row_index=row_index,
        )
    if not _is_integral(row_index):
        raise RequestError(
            400,
            f"Row {i}, column 0: the row index {show(row_index)} is not an integer.",
            row=i,
            row_index=row_index,
            column=0,
        )
    return row_index


def _too_many_rows(count: str, max_rows: int) -> str:
    return (
        f"The request has {count} rows; this service takes at most {max_rows} rows per "
        "request (the server's --max-request-rows). Split the request into smaller ones."
    )


def _fast_matrix(body: bytes, rows: list[Any], n_cols: int, dtype: type) -> np.ndarray | None:
    """The matrix when every value is a plain number and every row has the right length."""
    # Only the "data" key may be quoted: numpy would make a string among the numbers a string
    # array of rows x columns x its length (a 60 MB value: gigabytes). And numpy would quietly
    # turn true into 1.0: a body with an "r" (true) or an "s" (false) takes the slow path, which
    # names the value. Single-byte searches (memchr) only: counting quotes or searching for the
    # words costs more than the parse.
    second = body.find(b'"', body.find(b'"') + 1)
    if second < 0 or body.find(b'"', second + 1) >= 0 or b"r" in body or b"s" in body:
        return None
    try:
        arr = np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 2 or arr.shape[1] != n_cols + 1 or arr.dtype.kind not in "if":
        return None
    # integer row indexes (the usual case) need no look at the matrix's first column
    if arr.dtype.kind == "f" and {type(row[0]) for row in rows} != {int}:
        index = arr[:, 0]
        if not bool(np.all(np.isfinite(index) & (index == np.trunc(index)))):
            return None
    return np.ascontiguousarray(arr[:, 1:], dtype=dtype)


def _is_integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value == int(value)


def _slow_parse(rows: list[Any], input_cols: list[str], dtype: type) -> ParsedRequest:
    n_cols = len(input_cols)
    nan = float("nan")
    matrix: list[list[float]] = []
    indexes: list[Any] = []
    for i, row in enumerate(rows):
        row_index = _check_row(i, row, input_cols)
        values: list[float] = []
        for j, value in enumerate(row[1:], start=1):
            if value is None:
                values.append(nan)  # a SQL NULL: a missing value to the model
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RequestError(
                    400,
                    f"Row {i} (row_index {show(row_index)}), column {j} ({input_cols[j - 1]}): "
                    f"{show(value)} is not a number.",
                    row=i,
                    row_index=row_index,
                    column=j,
                )
            else:
                values.append(float(value))
        matrix.append(values)
        indexes.append(row_index)
    return ParsedRequest(indexes, np.array(matrix, dtype=dtype).reshape(len(rows), n_cols))


def encode_response(row_indexes: list[Any], results: np.ndarray) -> bytes:
    """``{"data": [[row_index, result], ...]}`` with a number or a list per row (a custom
    model's object array: whatever JSON value each row's result is)."""
    return jsoncodec.dumps({"data": list(zip(row_indexes, results.tolist()))})
