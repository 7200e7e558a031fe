"""Sensitive values never reach a terminal or a -json stream (issue 15, item 3).

A `sensitive = true` variable flows into a `comment` (printed as a `# ...` header by plan, apply,
show and state show) and into an argument whose check quotes the offending value. Every command's
whole output, stdout and stderr, is searched for the secret.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.helpers import run_cli, user_env, write_project

SECRET = "S3CR3T-token-value-9f2c"

HEADER = f"""
variable "tok" {{
  type      = string
  sensitive = true
  default   = "{SECRET}"
}}

network_rule "r" {{
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org"]
  comment    = "tok=${{var.tok}}"
}}
"""

VALID = (
    HEADER
    + """
compute_pool "p" {
  instance_family = "CPU_X64_XS"
}
"""
)

QUOTED = (
    HEADER
    + """
compute_pool "p" {
  instance_family = var.tok
}
"""
)


@pytest.mark.parametrize("args", [("validate",), ("validate", "-json"), ("plan",), ("plan", "-json")])
def test_a_check_that_quotes_the_value_does_not_print_the_secret(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": QUOTED})
    res = run_cli(project, *args, env=user_env(tmp_path))
    assert res.returncode == 1, res.stdout + res.stderr  # the family is still an error...
    assert "is not a known instance family" in res.stdout + res.stderr
    assert "(sensitive value)" in res.stdout + res.stderr  # ...said without the value
    assert SECRET not in res.stdout + res.stderr


@pytest.mark.slow  # over 7 s: many CLI runs or a deliberate wait
def test_comment_headers_of_sensitive_comments_are_not_printed(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"main.hcl": VALID})
    env = user_env(tmp_path)
    outputs = []
    for args in (
        ("plan",),
        ("plan", "-json"),
        ("apply", "-auto-approve"),
        ("show",),
        ("show", "-json"),
        ("state", "show", "network_rule.r"),
        ("destroy", "-auto-approve"),
    ):
        res = run_cli(project, *args, env=env)
        assert res.returncode == 0, (args, res.stdout + res.stderr)
        outputs.append((args, res.stdout + res.stderr))
    leaks = [args for args, text in outputs if SECRET in text]
    assert leaks == []
