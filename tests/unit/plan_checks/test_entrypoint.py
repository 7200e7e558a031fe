"""Plan-time entrypoint check (issue 14, problem 3): a module that cannot be imported or has no
such function is one located error at plan, with one line of cause; the import runs in a child
Python with a timeout, and a success is remembered by the module's content."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.kit import entrypoint_check

from .helpers import run

HCL = """compute_pool "cpu" {
  instance_family = "CPU_X64_XS"
}

training "net" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "trainer:train"
}
"""

pytestmark = pytest.mark.slow  # each plan starts a child Python


def _plan(capsys: pytest.CaptureFixture[str], tmp_path: Path, trainer: str | None) -> tuple[int, str]:
    (tmp_path / "main.hcl").write_text(HCL)
    if trainer is not None:
        (tmp_path / "trainer.py").write_text(trainer)
    return run(capsys, tmp_path, "plan")


def test_missing_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _plan(capsys, tmp_path, None)
    assert code == 1
    assert "Error: Entrypoint module not found" in text and "on main.hcl line 8:" in text
    assert "no module 'trainer' in the project directory" in text
    assert "Traceback" not in text


def test_syntax_error_names_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _plan(capsys, tmp_path, "import os\n\ndef train(:\n    pass\n")
    assert code == 1
    assert 'training.net: entrypoint "trainer:train": trainer.py line 3: invalid syntax.' in text
    assert text.count("Error:") == 1


def test_missing_function_suggests_the_nearest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _plan(capsys, tmp_path, "def trian():\n    pass\n")
    assert code == 1
    assert "Error: Entrypoint function not found" in text
    assert (
        "module trainer (trainer.py) has no function 'train'. Did you mean \"trian\"? Its functions: trian."
        in text
    )


def test_import_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _plan(capsys, tmp_path, "import not_a_real_package_xyz\n\ndef train():\n    pass\n")
    assert code == 1
    assert "importing trainer failed: No module named 'not_a_real_package_xyz'." in text
    assert "Traceback" not in text


def test_slow_import_times_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entrypoint_check, "TIMEOUT_S", 1.0)
    code, text = _plan(capsys, tmp_path, "import time\ntime.sleep(60)\n\ndef train():\n    pass\n")
    assert code == 1
    assert "importing trainer took more than 1 s, so the plan stopped waiting." in text


def test_success_is_remembered_by_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counter = tmp_path / "imports.log"
    body = f"open({str(counter)!r}, 'a').write('x')\n\ndef train():\n    pass\n# {tmp_path.name}\n"
    code, text = _plan(capsys, tmp_path, body)
    assert code == 0, text
    code, text = _plan(capsys, tmp_path, body)
    assert code == 0, text
    assert counter.read_text() == "x"  # the second plan started no child
    code, text = _plan(capsys, tmp_path, body + "# changed\n")
    assert code == 0, text
    assert counter.read_text() == "xx"


def test_the_check_can_be_turned_off_for_untrusted_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module whose import would leave a mark: with the check off, plan must not import it.
    marker = tmp_path / "imported"
    monkeypatch.setenv("MLRT_PLAN_IMPORT_CHECK", "0")
    code, text = _plan(capsys, tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    assert code == 0, text
    assert not marker.exists()
    monkeypatch.setenv("MLRT_PLAN_IMPORT_CHECK", "1")
    code, text = _plan(capsys, tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    assert code == 1 and "has no function 'train'" in text, text
    assert marker.exists()
