"""The upstream test cases of cases.py, one pytest test each, through mlrt's real grammar and
evaluator (so the errors are the ones a user sees)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.config.expr import Evaluator, Scope
from mlrt_iac.config.functions import set_plan_time
from mlrt_iac.config.parser import parse_expression
from mlrt_iac.config.valueops import EvalError, HclSet
from mlrt_iac.values import UNKNOWN, Sensitive

from .cases import ANY_ERROR, CASES, Case, SetOf

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(autouse=True)
def _plan_time() -> Iterator[None]:
    # functions_test.go gives Terraform's scope this plan time
    set_plan_time(datetime(2004, 4, 25, 15, 0, 0, tzinfo=timezone.utc))
    yield
    set_plan_time(None)


def same(got: Any, want: Any) -> bool:
    """Equal values of the same kind (a bool is not a number, a set is unordered)."""
    if want is UNKNOWN:
        return got is UNKNOWN
    if isinstance(want, Sensitive):
        return isinstance(got, Sensitive) and same(got.value, want.value)
    if isinstance(got, Sensitive):
        return False
    if isinstance(want, SetOf):
        if not isinstance(got, HclSet) or len(got) != len(want.items):
            return False
        return all(any(same(g, w) for g in got) for w in want.items)
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(got, bool) and isinstance(want, bool) and got == want
    if isinstance(want, float) and math.isinf(want):
        return isinstance(got, float) and got == want
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float)) and got == want
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and not isinstance(got, HclSet)
            and len(got) == len(want)
            and all(same(g, w) for g, w in zip(got, want))
        )
    if isinstance(want, dict):
        return (
            isinstance(got, dict) and got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
        )
    return type(got) is type(want) and got == want


def evaluate(case: Case) -> Any:
    ev = Evaluator(TESTDATA / case.base)
    return ev.eval(parse_expression(case.expr), Scope(dict(case.vars)))


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{i:03d} {c.src.split()[-1]}: {c.expr[:60]}" for i, c in enumerate(CASES)]
)
def test_upstream_case(case: Case) -> None:
    if case.error is not None:
        with pytest.raises(EvalError) as e:
            evaluate(case)
        message = f"{e.value.summary}: {e.value.detail}"
        if case.error != ANY_ERROR:
            assert case.error in message, f"{case.src}\nwant: {case.error}\ngot:  {message}"
        return
    got = evaluate(case)
    assert same(got, case.want), f"{case.src}\n{case.expr}\nwant: {case.want!r}\ngot:  {got!r}"


def test_cases_name_their_source() -> None:
    for c in CASES:
        assert c.src.split()[0] in ("TF", "CTY", "YAML"), c.src
        assert "_test.go" in c.src, c.src


ISSUE_13_FUNCTIONS = (
    "formatdate timeadd timecmp timestamp plantimestamp cidrhost cidrnetmask cidrsubnet cidrsubnets"
    " base64sha256 base64sha512 bcrypt filebase64sha256 filebase64sha512 filemd5 filesha1 filesha256"
    " filesha512 rsadecrypt sha512 uuid uuidv5 base64gzip csvdecode textdecodebase64 textencodebase64"
    " urlencode yamldecode yamlencode chomp indent templatestring log matchkeys setproduct fileset"
    " convert issensitive type ephemeralasnull"
).split()


def test_every_function_of_issue_13_exists_and_is_called_here() -> None:
    from mlrt_iac.config.functions import FUNCTIONS

    # The issue says "42 functions"; its list names these 40.
    assert len(set(ISSUE_13_FUNCTIONS)) == 40
    exercised = " ".join(c.expr for c in CASES) + (Path(__file__).parent / "test_properties.py").read_text()
    for name in ISSUE_13_FUNCTIONS:
        assert name in FUNCTIONS, name
        assert f"{name}(" in exercised, name
