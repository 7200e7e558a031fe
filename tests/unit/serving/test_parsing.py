"""The request parser: the vectorised path and every malformed body's 400 naming row and column."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlrt_iac.runtime.serving.errors import RequestError
from mlrt_iac.runtime.serving.parsing import encode_response, parse_request

COLS = ["a", "b", "c"]


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_numbers_become_one_matrix_and_row_indexes_are_echoed() -> None:
    parsed = parse_request(body({"data": [[7, 1, 2.5, -3], [9, 0.5, 0, 1e3]]}), COLS)
    assert parsed.row_indexes == [7, 9]
    assert parsed.features.dtype == np.float64
    np.testing.assert_array_equal(parsed.features, [[1, 2.5, -3], [0.5, 0, 1000]])


def test_float32_for_torch_models() -> None:
    parsed = parse_request(body({"data": [[0, 1, 2, 3]]}), COLS, dtype=np.float32)
    assert parsed.features.dtype == np.float32


def test_null_is_a_missing_value() -> None:
    parsed = parse_request(body({"data": [[0, 1, None, 3], [1, 4, 5, 6]]}), COLS)
    assert np.isnan(parsed.features[0, 1])
    assert parsed.features[1].tolist() == [4, 5, 6]


def test_empty_data_is_an_empty_matrix() -> None:
    parsed = parse_request(body({"data": []}), COLS)
    assert parsed.row_indexes == [] and parsed.features.shape == (0, 3)


@pytest.mark.parametrize(
    "raw, status, needle, row, column",
    [
        (b"{not json", 400, "not valid JSON", None, None),
        (b"[1, 2]", 400, 'no "data" member', None, None),
        (body({"rows": []}), 400, 'no "data" member', None, None),
        (body({"data": {"a": 1}}), 400, "must be a list", None, None),
        (body({"data": [[0, 1, 2, 3], "row"]}), 400, "Row 1 is not a list", 1, None),
        (body({"data": [[0, 1, 2, 3], [5, 1, 2]]}), 400, "Row 1 (row_index 5) has 2 values", 1, None),
        (body({"data": [[0, 1, 2, 3, 4]]}), 400, "has 4 values", 0, None),
        (body({"data": [[0, 1, "x", 3]]}), 400, "column 2 (b): 'x' is not a number", 0, 2),
        (body({"data": [[0, 1, 2, 3], [1, 1, 2, "3.5"]]}), 400, "column 3 (c): '3.5' is not a number", 1, 3),
        (body({"data": [[0, True, 2, 3]]}), 400, "column 1 (a): True is not a number", 0, 1),
        (body({"data": [[0, 1, [2], 3]]}), 400, "column 2 (b)", 0, 2),
        (body({"data": [["r1", 1, 2, 3]]}), 400, "row index 'r1' is not an integer", 0, 0),
        (body({"data": [[0.5, 1, 2, 3]]}), 400, "row index 0.5 is not an integer", 0, 0),
    ],
)
def test_malformed_bodies_name_the_row_and_column(
    raw: bytes, status: int, needle: str, row: int | None, column: int | None
) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(raw, COLS)
    err = info.value
    assert err.status == status
    assert needle in err.message
    assert err.row == row and err.column == column
    assert json.loads(json.dumps(err.to_json()))["error"] == err.message


def test_too_many_rows_is_413() -> None:
    with pytest.raises(RequestError) as info:
        parse_request(body({"data": [[i, 1, 2, 3] for i in range(11)]}), COLS, max_rows=10)
    assert info.value.status == 413 and "--max-request-rows" in info.value.message


def test_encode_response_numbers_and_lists() -> None:
    assert json.loads(encode_response([3, 4], np.array([0.5, 1.5], dtype=np.float32))) == {
        "data": [[3, 0.5], [4, 1.5]]
    }
    assert json.loads(encode_response([0], np.array([[0.25, 0.75]]))) == {"data": [[0, [0.25, 0.75]]]}


@pytest.mark.parametrize(
    "rows, needle, column",
    [
        ([[0, 1, 2, 3], [1, 1, False, 3]], "column 2 (b): False is not a number", 2),
        ([[0, True, False, True]], "column 1 (a): True is not a number", 1),
        ([[0, 1, 2, 3], [1, "4", "5", "6"]], "column 1 (a): '4' is not a number", 1),
        ([["7", 1, 2, 3]], "row index '7' is not an integer", 0),
    ],
)
def test_booleans_and_numbers_in_strings_never_pass_as_numbers(
    rows: list[list[object]], needle: str, column: int
) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(body({"data": rows}), COLS)
    assert info.value.status == 400 and needle in info.value.message
    assert info.value.column == column


def test_other_members_with_any_letters_still_parse() -> None:
    parsed = parse_request(body({"data": [[3, 1, 2, 3]], "source": "rows", "true": False}), COLS)
    assert parsed.row_indexes == [3] and parsed.features.tolist() == [[1, 2, 3]]


def test_a_body_that_could_hold_too_many_rows_is_counted_before_parsing() -> None:
    many = b'{"data": [' + b",".join([b"[]"] * 30) + b"]}"
    with pytest.raises(RequestError) as info:
        parse_request(many, COLS, max_rows=10)
    assert info.value.status == 413 and "more than 10" in info.value.message


def test_a_string_or_boolean_never_reaches_the_vectorised_path() -> None:
    """numpy would build a rows x columns x length string array for a long string (memory) and
    read true as 1.0: such bodies take the row-by-row path."""
    from mlrt_iac.runtime.serving.parsing import _fast_matrix

    for rows in ([[0, 1, "x" * 1000, 3]], [[0, 1, 2, True]], [[0, 1, 2, False]], [["0", 1, 2, 3]]):
        raw = body({"data": rows})
        assert _fast_matrix(raw, json.loads(raw)["data"], 3, np.float64) is None, rows
    raw = body({"data": [[0, 1, 2, 3]]})
    fast = _fast_matrix(raw, json.loads(raw)["data"], 3, np.float64)
    assert fast is not None and fast.tolist() == [[1, 2, 3]]


def test_a_long_string_among_many_rows_costs_no_string_matrix() -> None:
    import tracemalloc

    rows: list[list[object]] = [[i, 1.5, 2.5, 3.5] for i in range(200)]
    rows[7][2] = "x" * 100_000  # as a numpy string array: 200 x 4 x 100,000 x 4 bytes = 320 MB
    raw = body({"data": rows})
    tracemalloc.start()
    try:
        with pytest.raises(RequestError) as info:
            parse_request(raw, COLS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.row == 7 and info.value.column == 2
    assert peak < 20 * 1024 * 1024, peak
