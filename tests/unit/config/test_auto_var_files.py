"""terraform.tfvars, mlrt.tfvars and *.auto.tfvars are read without -var-file, in Terraform's
precedence: environment < those files (fixed names, then *.auto.* in lexical order) < -var-file <
-var."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.plan.project import open_project

MAIN = "".join(f'variable "{n}" {{\n  default = "default"\n}}\n' for n in "abcde")


def _inputs(tmp_path: Path, **kw: object) -> dict[str, object]:
    project = open_project(tmp_path, environ={"MLRT_VAR_a": "env", "MLRT_VAR_e": "env"}, **kw)  # type: ignore[arg-type]
    return dict(project.inputs)


def test_auto_files_are_read_in_terraform_precedence(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(MAIN)
    (tmp_path / "terraform.tfvars").write_text('a = "tfvars"\nb = "tfvars"\nc = "tfvars"\nd = "tfvars"\n')
    (tmp_path / "b.auto.tfvars").write_text('c = "auto-b"\nd = "auto-b"\n')
    (tmp_path / "a.auto.tfvars.json").write_text('{"b": "auto-a", "c": "auto-a", "d": "auto-a"}')
    (tmp_path / "extra.tfvars").write_text('d = "var-file"\n')
    got = _inputs(tmp_path, var_files=[str(tmp_path / "extra.tfvars")], cli_vars=[])
    assert got == {"a": "tfvars", "b": "auto-a", "c": "auto-b", "d": "var-file", "e": "env"}
    got = _inputs(tmp_path, cli_vars=["d=cli"])
    assert got["d"] == "cli"


def test_without_auto_files_nothing_changes(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(MAIN)
    (tmp_path / "vars.tfvars").write_text('b = "not automatic"\n')  # only *.auto.tfvars are automatic
    assert _inputs(tmp_path) == {"a": "env", "e": "env"}


def test_mlrt_tfvars_is_read_after_terraform_tfvars(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(MAIN)
    (tmp_path / "terraform.tfvars").write_text('b = "terraform"\nc = "terraform"\n')
    (tmp_path / "mlrt.tfvars").write_text('c = "mlrt"\n')
    got = _inputs(tmp_path)
    assert (got["b"], got["c"]) == ("terraform", "mlrt")
