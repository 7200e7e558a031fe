"""Every expression form and every function, table-driven through the real grammar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrt_iac.config.valueops import EvalError, HclSet

from .helpers import ev

CASES = [
    # literals and collections
    ("1", 1),
    ("1.5", 1.5),
    ("1.0", 1),
    ("1e3", 1000),
    ("true", True),
    ("null", None),
    ('"a"', "a"),
    ("[1, 2]", [1, 2]),
    ('{a = 1, "b" : 2}', {"a": 1, "b": 2}),
    ("{(x) = 1}", {"4": 1}),
    # arithmetic, comparison, logic, conditionals
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("5 / 2", 2.5),
    ("4 / 2", 2),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("-x", -4),
    ('"1" + 1', 2),
    ("1 < 2", True),
    ("2 >= 3", False),
    ('1 == "1"', False),
    ("[1] == [1]", True),
    ("true && false", False),
    ("true || false", True),
    ("!true", False),
    ('x > 3 ? "big" : "small"', "big"),
    # strings and templates
    ('"n=${x}"', "n=4"),
    ('"v${1.5}"', "v1.5"),
    ('"v${true}"', "vtrue"),
    ('"${x}"', 4),
    ('"$${x}"', "${x}"),
    ('"a\\nb\\t\\"q\\""', 'a\nb\t"q"'),
    ('"%{if x > 1}yes%{else}no%{endif}"', "yes"),
    ('"%{for i in [1, 2]}<${i}>%{endfor}"', "<1><2>"),
    ('"%{for k, v in {a = 1}}${k}=${v}%{endfor}"', "a=1"),
    ('"a %{~ if true ~} b %{~ endif ~} c"', "abc"),
    ('"%%{x}"', "%{x}"),
    ('"\\u00e9"', "é"),
    # for expressions
    ("[for v in [1, 2, 3] : v * 2 if v > 1]", [4, 6]),
    ('[for i, v in ["a", "b"] : "${i}${v}"]', ["0a", "1b"]),
    ("{for k, v in {a = 1, b = 2} : v => k}", {"1": "a", "2": "b"}),
    ('{for v in ["a", "b", "a"] : v => v...}', {"a": ["a", "a"], "b": ["b"]}),
    ('[for v in toset(["b", "a"]) : v]', ["a", "b"]),
    # splats and indexing
    ("[{a = 1}, {a = 2}][*].a", [1, 2]),
    ("[{a = {b = 1}}].*.a.b", [1]),
    ("m.k", "v"),
    ('m["k"]', "v"),
    ("l[1]", 20),
    ("l.0", 10),
    ("null[*]", []),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_expression(text: str, expected: object) -> None:
    got = ev(text, {"x": 4, "m": {"k": "v"}, "l": [10, 20]})
    assert got == expected and type(got) is type(expected) or isinstance(expected, list) and got == expected


def test_heredocs(tmp_path: Path) -> None:
    from .helpers import run

    out, diags = run(
        tmp_path,
        {
            "main.hcl": 'locals {\n  a = <<EOT\nhello ${upper("x")}\n  two\nEOT\n'
            "  b = <<-EOT\n    one\n      two\n    EOT\n}\n"
            'output "a" { value = local.a }\noutput "b" { value = local.b }\n'
        },
    )
    assert not diags.has_errors, diags
    assert out.outputs["a"].value == "hello X\n  two\n"
    assert out.outputs["b"].value == "one\n  two\n"


FUNCS = [
    ("length([1, 2])", 2),
    ('length("abc")', 3),
    ("length({a = 1})", 1),
    ('lookup({a = 1}, "a")', 1),
    ('lookup({a = 1}, "b", 9)', 9),
    ("merge({a = 1}, {b = 2}, {a = 3})", {"a": 3, "b": 2}),
    ("concat([1], [2, 3])", [1, 2, 3]),
    ('contains(["a"], "a")', True),
    ("keys({b = 1, a = 2})", ["a", "b"]),
    ("values({b = 1, a = 2})", [2, 1]),
    ('format("%s-%03d-%.1f-%t-%q", "x", 7, 1.25, true, "y")', 'x-007-1.2-true-"y"'),
    ('join(",", ["a", "b"])', "a,b"),
    ('split(",", "a,b")', ["a", "b"]),
    ('upper("a")', "A"),
    ('lower("A")', "a"),
    ('replace("a-b", "-", "_")', "a_b"),
    ('replace("a1b2", "/[0-9]/", "")', "ab"),
    ('trimspace("  a ")', "a"),
    ("min(3, 1, 2)", 1),
    ("max(3, 1, 2)", 3),
    ("abs(-2)", 2),
    ("ceil(1.2)", 2),
    ("floor(1.8)", 1),
    ('coalesce(null, "", "b")', "b"),
    ('toset(["b", "a", "b"])', ["a", "b"]),
    ("tolist(toset([1]))", [1]),
    ("tomap({a = 1})", {"a": 1}),
    ("tostring(1)", "1"),
    ('tonumber("2")', 2),
    ("jsonencode({a = [1, true]})", '{"a":[1,true]}'),
    ('jsondecode("{\\"a\\": 1.0}")', {"a": 1}),
    ('basename("/a/b.txt")', "b.txt"),
    ('dirname("/a/b.txt")', "/a"),
    ("range(3)", [0, 1, 2]),
    ("range(1, 7, 2)", [1, 3, 5]),
    ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
    ("flatten([[1], [2, [3]]])", [1, 2, 3]),
    ("distinct([1, 1, 2])", [1, 2]),
    ('sort(["b", "a"])', ["a", "b"]),
    ("try(nope.x, 5)", 5),
    ('can(1 + "x")', False),
    ("element([1, 2], 3)", 2),
    ("slice([1, 2, 3], 1, 3)", [2, 3]),
    ('substr("hello", 1, 3)', "ell"),
    ('startswith("ab", "a")', True),
    ('endswith("ab", "a")', False),
    ('regex("([a-z]+)-(\\\\d+)", "ab-12")', ["ab", "12"]),
    ("sum([1, 2.5])", 3.5),
    ("one([])", None),
    ('index(["a", "b"], "b")', 1),
    ("reverse([1, 2])", [2, 1]),
    ('setunion(["a"], ["b", "a"])', ["a", "b"]),
    ('sha256("")', "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ('base64decode(base64encode("hi"))', "hi"),
    ('trim("xxaxx", "x")', "a"),
    ('title("hello world")', "Hello World"),
    ('formatlist("%s!", ["a", "b"])', ["a!", "b!"]),
    ('compact(["a", "", null])', ["a"]),
    ("chunklist([1, 2, 3], 2)", [[1, 2], [3]]),
    ("coalescelist([], [1])", [1]),
    ("alltrue([true, true])", True),
    ("anytrue([false])", False),
    ('trimprefix("ab", "a")', "b"),
    ('trimsuffix("ab", "b")', "a"),
    ('fileexists("definitely-not-here")', False),
    ('abspath("/a/../b")', "/b"),
    ('tobool("true")', True),
]


@pytest.mark.parametrize("text,expected", FUNCS)
def test_function(text: str, expected: object) -> None:
    assert ev(text) == expected


def test_toset_is_a_set() -> None:
    assert isinstance(ev('toset(["a"])'), HclSet)


def test_file_functions(tmp_path: Path) -> None:
    from .helpers import run

    out, diags = run(
        tmp_path,
        {
            "main.hcl": 'output "f" { value = file("${path.module}/x.txt") }\n'
            'output "t" { value = templatefile("${path.module}/t.tpl", { n = 2 }) }\n'
            'output "e" { value = fileexists("${path.module}/x.txt") }\n',
            "x.txt": "content",
            "t.tpl": "n=${n}%{ for i in range(n) } ${i}%{ endfor }",
        },
    )
    assert not diags.has_errors, diags
    assert out.outputs["f"].value == "content"
    assert out.outputs["t"].value == "n=2 0 1"
    assert out.outputs["e"].value is True


ERRORS = [
    ("nosuch(1)", "Call to unknown function"),
    ("length()", "Not enough function arguments"),
    ("length(1, 2)", "Too many function arguments"),
    ('1 + "x"', "Invalid operand"),
    ("[1][5]", "Invalid index"),
    ("{a = 1}.b", "Unsupported attribute"),
    ('lookup({}, "k")', "Error in function call"),
    ("1 / 0", "Division by zero"),
    ('"a${[1]}"', "Invalid template interpolation value"),
    ("1 ? 2 : 3", "Incorrect condition type"),
    ('{for v in ["a", "a"] : v => v}', "Duplicate object key"),
]


@pytest.mark.parametrize("text,summary", ERRORS)
def test_expression_errors(text: str, summary: str) -> None:
    with pytest.raises(EvalError) as e:
        ev(text)
    assert e.value.summary == summary
    assert e.value.pos is not None and e.value.pos[0] >= 1


def test_unknown_function_suggests() -> None:
    with pytest.raises(EvalError) as e:
        ev("lenght([1])")
    assert 'Did you mean "length"' in e.value.detail


def test_jsonencode_roundtrip() -> None:
    assert json.loads(ev('jsonencode({a = "x", b = [1, null]})')) == {"a": "x", "b": [1, None]}
