"""Every bad input of the language gets an error with file and line, exit 1, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrt_iac.cli.main import main

POOL = 'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n  max_nodes       = 1\n}\n'
TRAIN = (
    'training "t" {\n  compute_pool = compute_pool.cpu\n  framework    = "%s"\n'
    '  dataset "train" {\n    source    = "d.parquet"\n    label_col = "y"\n  }\n%s}\n'
)

CASES = {
    "syntax error": ('compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n', "main.hcl line"),
    "unknown block type": ('compute_poll "cpu" {\n  instance_family = "CPU_X64_S"\n}\n', "line 1"),
    "unknown argument": (
        'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n  max_nodez = 2\n}\n',
        "line 3",
    ),
    "wrong type": (
        'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n  max_nodes = "many"\n}\n',
        "line 3",
    ),
    "undeclared reference": (
        POOL + (TRAIN % ("xgboost", "")).replace("compute_pool.cpu", "compute_pool.gpu"),
        "line 6",
    ),
    "cycle": (
        'network_rule "a" {\n  mode = "EGRESS"\n  type = "HOST_PORT"\n  value_list = ["a.com"]\n'
        '  depends_on = [network_rule.b]\n}\n\nnetwork_rule "b" {\n  mode = "EGRESS"\n  type = "HOST_PORT"\n'
        '  value_list = ["b.com"]\n  depends_on = [network_rule.a]\n}\n',
        "Cycle",
    ),
    "min_nodes > max_nodes": (
        'compute_pool "cpu" {\n  instance_family = "CPU_X64_S"\n  min_nodes = 3\n  max_nodes = 1\n}\n',
        "line",
    ),
    "unknown instance family": ('compute_pool "cpu" {\n  instance_family = "CPU_X64_XXL"\n}\n', "line 2"),
    "invalid host or port": (
        'network_rule "r" {\n  mode = "EGRESS"\n  type = "HOST_PORT"\n'
        '  value_list = ["example.com:70000"]\n}\n',
        "line 4",
    ),
    "gpus on a cpu family": (POOL + TRAIN % ("xgboost", "  scaling {\n    use_gpu = true\n  }\n"), "line"),
    "more nodes than max_nodes": (
        POOL + TRAIN % ("xgboost", "  scaling {\n    num_nodes = 4\n  }\n"),
        "line",
    ),
    "unknown framework": (POOL + TRAIN % ("sklearnish", ""), "line 7"),
    "missing required variable": ('variable "family" {\n  type = string\n}\n', "line 1"),
    "failing variable validation": (
        'variable "n" {\n  type    = number\n  default = 0\n  validation {\n'
        '    condition     = var.n > 0\n    error_message = "n must be positive."\n'
        "  }\n}\n",
        "n must be positive",
    ),
    "duplicate address": (POOL + "\n" + POOL, "line"),
    "for_each over a list": (
        'network_rule "r" {\n  for_each = ["a", "b"]\n  mode = "EGRESS"\n  type = "HOST_PORT"\n'
        '  value_list = ["x.com"]\n}\n',
        "line 2",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, expect = CASES[name]
    (tmp_path / "main.hcl").write_text(text)
    code = main(["-chdir", str(tmp_path), "validate", "-no-color"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Error:" in err
    assert "on main.hcl line" in err
    assert expect in err
    assert "Traceback" not in err


def test_not_utf8_and_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.hcl").write_bytes(b'compute_pool "\xff\xfe" {}\n')
    assert main(["-chdir", str(tmp_path), "validate", "-no-color"]) == 1
    assert "Error:" in capsys.readouterr().err
    import random

    rng = random.Random(7)
    (tmp_path / "main.hcl").write_bytes(bytes(rng.randrange(32, 127) for _ in range(5 * 1024 * 1024)))
    assert main(["-chdir", str(tmp_path), "validate", "-no-color"]) == 1
    err = capsys.readouterr().err
    assert "Error:" in err and "Traceback" not in err
