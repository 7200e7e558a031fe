"""compute_pool.labels must be valid Kubernetes labels (issue 15, Low: any key was accepted)."""

from __future__ import annotations

import pytest

from ._helpers import line_of, make, run

POOL = {"instance_family": "CPU_X64_S", "min_nodes": 1, "max_nodes": 1}


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("bad key", "x", "is not a valid label key"),
        ("-lead", "x", "is not a valid label key"),
        ("x" * 64, "x", "is not a valid label key"),
        ("Example.COM/team", "x", "not a DNS subdomain"),
        ("app.kubernetes.io/managed-by", "me", "set by mlrt itself"),
        ("mlrt.dev/address", "x", "set by mlrt itself"),
        ("team", "has space", "not a valid label value"),
        ("team", "v" * 64, "not a valid label value"),
    ],
)
def test_invalid_labels_are_errors_on_their_line(key: str, value: str, why: str) -> None:
    pool = make("compute_pool", "p", {**POOL, "labels": {key: value}}, line=1, attr_lines={"labels": 4})
    _, diags = run(pool)
    (err,) = [d for d in diags if d.summary == "Invalid label"]
    assert why in err.detail
    assert line_of(err) == 4


def test_valid_labels_pass() -> None:
    labels = {"team": "search", "example.com/cost-center": "ml_42", "tier": "", "a.b-c": "X.y-Z"}
    models, diags = run(make("compute_pool", "p", {**POOL, "labels": labels}))
    assert not diags and models["compute_pool.p"].labels == labels
