"""Turn a Snowflake service-function body into row indexes and one feature matrix, or a 400.

The fast path is vectorised: one JSON parse and one ``numpy.array`` call over the rows. Only when
that cannot be trusted (ragged rows, non-numbers, booleans, nulls, strings) does the slow path walk
the rows, to build the matrix with nulls as missing values (NaN) or to name the first bad row and
column in the error.

Bounded whatever the body: more rows than ``max_rows`` (default DEFAULT_MAX_BATCH_ROWS) are a
413 before the JSON is parsed (each row is a list, so the body's ``[`` count bounds the rows at
no cost, where parsing 1e6 rows would take ~800 MB); nesting deeper than the format's
object -> rows -> values is a 400 naming the row and column (the JSON parser refuses beyond 1,024
levels); an error message quotes at most SHOW_CHARS characters of any value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlrt_iac.runtime.serving import jsoncodec
from mlrt_iac.runtime.serving.config import DEFAULT_MAX_BATCH_ROWS
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

    ``max_rows`` None means DEFAULT_MAX_BATCH_ROWS: there is always a cap.
    """
    if max_rows is None:
        max_rows = DEFAULT_MAX_BATCH_ROWS
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
    n_cols = len(input_cols)
    if not rows:
        return ParsedRequest([], np.empty((0, n_cols), dtype=dtype))
    if len(rows) > max_rows:
        raise RequestError(413, _too_many_rows(str(len(rows)), max_rows))
    fast = _fast_matrix(body, rows, n_cols, dtype)
    if fast is not None:
        return ParsedRequest([row[0] for row in rows], fast)
    return _slow_parse(rows, input_cols, dtype)


def _too_many_rows(count: str, max_rows: int) -> str:
    return (
        f"The request has {count} rows; this service takes at most {max_rows} rows per "
        "request (max_batch_rows). Split the request into smaller batches."
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
    if arr.dtype.kind == "f":
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
    """``{"data": [[row_index, result], ...]}`` with a number or a list per row."""
    return jsoncodec.dumps({"data": list(zip(row_indexes, results.tolist()))})
