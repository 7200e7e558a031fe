from mlrt_iac.model import default_name, normalize_name
from mlrt_iac.model.names import name_problem

from ._helpers import line_of, make, only, run


def test_normalize_lowercases_and_replaces_underscores() -> None:
    assert normalize_name("My_Pool") == "my-pool"
    assert normalize_name("already-fine") == "already-fine"


def test_name_problems() -> None:
    assert name_problem("pool-1") is None
    assert "start with a letter" in (name_problem("1pool") or "")
    assert "end with a letter or a digit" in (name_problem("pool-") or "")
    assert "'.'" in (name_problem("a.b") or "")
    assert "64 characters" in (name_problem("a" * 64) or "")
    assert name_problem("a" * 63) is None


def test_default_name_is_label_plus_key() -> None:
    assert default_name("cpu", None) == "cpu"
    assert default_name("gpu", "A10") == "gpu-a10"
    assert default_name("w", 0) == "w-0"


def test_name_defaults_to_normalised_label() -> None:
    models, diags = run(make("compute_pool", "Big_Pool", {"instance_family": "CPU_X64_XS"}))
    assert not diags
    assert models["compute_pool.Big_Pool"].name == "big-pool"


def test_explicit_name_is_normalised() -> None:
    models, diags = run(make("compute_pool", "p", {"instance_family": "CPU_X64_XS", "name": "Team_A"}))
    assert not diags
    assert models["compute_pool.p"].name == "team-a"


def test_bad_explicit_name_points_at_the_attribute() -> None:
    _, diags = run(
        make(
            "compute_pool",
            "p",
            {"instance_family": "CPU_X64_XS", "name": "9lives"},
            line=4,
            attr_lines={"name": 5},
        )
    )
    d = only(diags, "Invalid name")
    assert "must start with a letter" in d.detail
    assert line_of(d) == 5


def test_bad_label_points_at_the_block() -> None:
    _, diags = run(
        make("network_rule", "1rule", {"mode": "EGRESS", "type": "IPV4", "value_list": []}, line=7)
    )
    d = only(diags, "Invalid name")
    assert 'Set name = "..."' in d.detail
    assert line_of(d) == 7
