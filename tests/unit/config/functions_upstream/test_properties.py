"""What upstream checks by property rather than value (timestamp, uuid, bcrypt), when impure
functions get their values (Terraform: unknown while planning, known during apply), and that
errors reach the user with Terraform's wording, file and line."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from mlrt_iac.config.expr import Evaluator, Scope
from mlrt_iac.config.functions import applying, set_plan_time
from mlrt_iac.config.parser import parse_expression
from mlrt_iac.config.valueops import EvalError
from mlrt_iac.values import UNKNOWN, Sensitive

from ..helpers import run

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def ev(text: str, **variables: Any) -> Any:
    return Evaluator(Path.cwd()).eval(parse_expression(text), Scope(variables))


@pytest.mark.parametrize("call", ["timestamp()", "uuid()", 'bcrypt("test")'])
def test_impure_functions_are_unknown_while_planning(call: str) -> None:
    assert ev(call) is UNKNOWN


def test_timestamp_during_apply_is_now_in_rfc3339() -> None:
    # TF datetime_test.go TestTimestamp: parses as RFC 3339, within 10 s of now
    with applying():
        got = ev("timestamp()")
    t = datetime.strptime(got, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - t).total_seconds()) < 10
    with applying():
        assert ev('formatdate("YYYY", timestamp())') == str(t.year)


def test_uuid_during_apply_is_a_random_v4_uuid() -> None:
    # TF crypto_test.go TestUUID: 36 characters
    with applying():
        a, b = ev("uuid()"), ev("uuid()")
    assert len(a) == 36 and UUID4.match(a) and UUID4.match(b)
    assert a != b


def test_bcrypt_during_apply_verifies() -> None:
    # TF crypto_test.go TestBcrypt: the hash verifies; cost 5 is used; 3 arguments fail
    with applying():
        h = ev('bcrypt("test")')
        h5 = ev('bcrypt("test", 5)')
    assert bcrypt.checkpw(b"test", h.encode())
    assert not bcrypt.checkpw(b"tesT", h.encode())
    assert h.startswith("$2a$10$")
    assert h5.startswith("$2a$05$") and bcrypt.checkpw(b"test", h5.encode())
    with pytest.raises(EvalError, match="bcrypt\\(\\) takes no more than two arguments"):
        ev('bcrypt("test", 10, 11)')


def test_bcrypt_of_a_sensitive_value_is_sensitive() -> None:
    with applying():
        got = ev("bcrypt(p)", p=Sensitive("secret"))
    assert isinstance(got, Sensitive) and bcrypt.checkpw(b"secret", got.value.encode())


def test_plantimestamp_is_known_while_planning_and_fixed() -> None:
    set_plan_time(None)
    try:
        a = ev("plantimestamp()")
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", a)
        with applying():
            assert ev("plantimestamp()") == a
    finally:
        set_plan_time(None)


def test_type_names_the_value_type() -> None:
    # Terraform's type() exists only in `terraform console`; mlrt returns the type as text.
    assert ev('type("a")') == "string"
    assert ev("type(1)") == "number"
    assert ev('type([1, "a"])') == "tuple([number, string])"
    assert ev("type({a = true})") == "object({a = bool})"
    assert ev('type(toset(["a"]))') == "set(string)"
    assert ev('type(sensitive("x"))') == "string"
    assert ev("type(null)") == "dynamic"


def test_convert_reports_a_value_that_does_not_fit() -> None:
    assert ev('convert(["1", 2], list(number))') == [1, 2]
    with pytest.raises(EvalError, match='Call to function "convert" failed'):
        ev('convert("x", number)')
    with pytest.raises(EvalError, match='Call to function "convert" failed: Expected a type'):
        ev('convert("x", strin)')


def test_unknown_elements_make_results_unknown() -> None:
    assert ev("cidrsubnet(u, 4, 1)", u=UNKNOWN) is UNKNOWN
    assert ev("yamlencode([u])", u=UNKNOWN) is UNKNOWN
    assert ev("convert(u, string)", u=UNKNOWN) is UNKNOWN


@pytest.mark.parametrize(
    ("expr", "detail"),
    [
        ('cidrsubnet("10.0.0.0/33", 4, 1)', "invalid CIDR expression: invalid CIDR address: 10.0.0.0/33"),
        ('formatdate("YYY", "2017-01-02T00:00:00Z")', 'invalid date format verb "YYY"'),
        ('timeadd("2017-01-02T00:00:00Z", "1x")', 'time: unknown unit "x" in duration "1x"'),
        ('timeadd("2017-01-02T00:00:00Z", "1")', 'time: missing unit in duration "1"'),
        ('csvdecode("a,b\\n1")', "CSV parse error on line 2: wrong number of fields"),
        ('csvdecode("a,a\\n1,2")', 'duplicate column name "a"'),
        ('yamldecode("a: [")', "did not find expected node content"),
        ('filesha256("nope.txt")', "no file exists at nope.txt"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, expr: str, detail: str) -> None:
    _, diags = run(tmp_path, {"main.hcl": f"locals {{\n  ok = 1\n  bad = {expr}\n}}\n"})
    errs = diags.errors()
    assert len(errs) == 1, errs
    e = errs[0]
    assert e.summary == "Error in function call"
    assert e.detail.startswith('Call to function "') and detail in e.detail, e.detail
    assert e.range is not None and e.range.filename.endswith("main.hcl") and e.range.start.line == 3


def test_file_functions_read_relative_to_the_module(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("Hello World")
    ev_, diags = run(
        tmp_path,
        {
            "main.hcl": 'output "h" {\n  value = filesha1("data/a.txt")\n}\n'
            'output "s" {\n  value = fileset(path.module, "data/*")\n}\n'
        },
    )
    assert not diags.has_errors, diags
    assert ev_.outputs["h"].value == "0a4d55a8d778e5022fab701977c5d840bbc486d0"
    assert list(ev_.outputs["s"].value) == ["data/a.txt"]


def test_plan_shows_impure_values_unknown_and_apply_computes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlrt_iac.cli.main import main

    (tmp_path / "main.hcl").write_text(
        'mlrt {\n  default_provider = "test"\n}\n\n'
        'network_rule "r" {\n  mode       = "EGRESS"\n  type       = "HOST_PORT"\n'
        '  value_list = ["h${substr(replace(uuid(), "-", ""), 0, 8)}.com"]\n}\n\n'
        'output "t" {\n  value = timestamp()\n}\n\noutput "p" {\n  value = plantimestamp()\n}\n'
    )
    assert main(["-chdir", str(tmp_path), "plan", "-no-color"]) == 0
    plan = capsys.readouterr().out
    assert "value_list = [(known after apply)]" in plan
    assert "t = (known after apply)" in plan
    planned = re.search(r'p = "(\S+)"', plan)
    assert planned is not None
    assert main(["-chdir", str(tmp_path), "apply", "-auto-approve", "-no-color"]) == 0
    capsys.readouterr()
    assert main(["-chdir", str(tmp_path), "output", "-no-color"]) == 0
    out = capsys.readouterr().out
    assert re.search(r't = "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', out), out
    objects = list((tmp_path / ".mlrt" / "test-objects" / "network_rule").glob("*.json"))
    assert len(objects) == 1
    assert re.search(r'"h[0-9a-f]{8}\.com"', objects[0].read_text())


def test_convert_types_are_not_references_and_templatestring_reads_its_reference(tmp_path: Path) -> None:
    ev_, diags = run(
        tmp_path,
        {
            "main.hcl": 'locals {\n  t = "x=$${a}"\n}\n'
            'output "o" {\n  value = convert(["1", 2], list(number))\n}\n'
            'output "z" {\n  value = convert({a = 1}, object({a = string, b = optional(number, 3)}))\n}\n'
            'output "s" {\n  value = templatestring(local.t, {a = 1})\n}\n'
        },
    )
    assert not diags.has_errors, [(d.summary, d.detail) for d in diags.errors()]
    assert ev_.outputs["o"].value == [1, 2]
    assert ev_.outputs["z"].value == {"a": "1", "b": 3}
    assert ev_.outputs["s"].value == "x=1"
