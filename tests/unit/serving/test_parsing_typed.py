"""Typed rows for custom models: numbers, strings, booleans and nulls per column, each checked
against the column's type, errors naming the row and column."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mlrt_iac.runtime.serving.custom import column_kind, rows_to_frame
from mlrt_iac.runtime.serving.errors import RequestError
from mlrt_iac.runtime.serving.parsing import parse_request, parse_table_request

COLS = ["text", "n", "flag", "anything"]
KINDS = ("string", "number", "bool", "any")


def _body(rows: list[list[Any]]) -> bytes:
    return json.dumps({"data": rows}).encode()


def test_mixed_rows_keep_their_types() -> None:
    parsed = parse_table_request(
        _body([[0, "hello", 1, True, "x"], [1, None, 2.5, None, 3], [2, "", None, False, None]]), COLS, KINDS
    )
    assert parsed.row_indexes == [0, 1, 2]
    assert parsed.features.dtype == object
    assert parsed.features.tolist() == [
        ["hello", 1, True, "x"],
        [None, 2.5, None, 3],
        ["", None, False, None],
    ]
    frame = rows_to_frame(parsed.features, COLS, KINDS)
    assert frame["text"].tolist() == ["hello", None, ""]
    assert frame["n"].dtype == np.float64 and np.isnan(frame["n"][2])
    assert frame["flag"].tolist() == [True, None, False]
    whole = rows_to_frame(
        parse_table_request(_body([[0, "a", 3, True, 1]]), COLS, KINDS).features, COLS, KINDS
    )
    assert whole["n"].dtype == np.int64 and whole["flag"].dtype == bool


@pytest.mark.parametrize(
    ("row", "column", "says"),
    [
        (
            [0, "a", "hello", True, 1],
            2,
            "column 2 (n): 'hello' is a string; the column takes a number or null",
        ),
        ([0, "a", True, True, 1], 2, "column 2 (n): True is a boolean; the column takes a number or null"),
        ([0, 5, 1, True, 1], 1, "column 1 (text): 5 is a number; the column takes a string or null"),
        ([0, "a", 1, "yes", 1], 3, "column 3 (flag): 'yes' is a string; the column takes a boolean or null"),
        ([0, "a", 1, True, [1, 2]], 4, "is a list (values must be scalars)"),
        ([0, "a", 1, True, {"k": 1}], 4, "is an object (values must be scalars)"),
    ],
)
def test_a_value_of_the_wrong_type_names_row_and_column(row: list[Any], column: int, says: str) -> None:
    good = [9, "ok", 1, False, None]
    with pytest.raises(RequestError) as info:
        parse_table_request(_body([good, row]), COLS, KINDS)
    err = info.value
    assert err.status == 400 and err.row == 1 and err.column == column
    assert err.message.startswith("Row 1 (row_index 0), ")
    assert says in err.message


def test_malformed_rows_are_refused_as_for_numeric_models() -> None:
    with pytest.raises(RequestError, match="has 2 values after the row index; the model takes 4"):
        parse_table_request(_body([[0, "a", 1]]), COLS, KINDS)
    with pytest.raises(RequestError, match="the row index 'x' is not an integer"):
        parse_table_request(_body([["x", "a", 1, True, 1]]), COLS, KINDS)
    with pytest.raises(RequestError) as too_many:
        parse_table_request(_body([[i, "a", 1, True, 1] for i in range(3)]), COLS, KINDS, max_rows=2)
    assert too_many.value.status == 413


def test_a_numeric_model_still_refuses_strings_naming_row_and_column() -> None:
    with pytest.raises(RequestError) as info:
        parse_request(_body([[0, 1.0, 2.0], [1, "hello", 3.0]]), ["a", "b"])
    assert info.value.row == 1 and info.value.column == 1
    assert "column 1 (a): 'hello' is not a number" in info.value.message


@pytest.mark.parametrize(
    ("dtype", "kind"),
    [
        ("float64", "number"),
        ("int32", "number"),
        ("bool", "bool"),
        ("object", "string"),
        ("string", "string"),
        (None, "any"),
        ("datetime64[ns]", "any"),
    ],
)
def test_column_kinds_from_metadata_dtypes(dtype: str | None, kind: str) -> None:
    assert column_kind(dtype) == kind
