"""Gathering root variable values from their sources, in Terraform's precedence order:
defaults < MLRT_VAR_<name> environment < terraform.tfvars, mlrt.tfvars and *.auto.tfvars (found in
the project folder) < -var-file files (in order) < -var k=v (in order)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostics, SourceRange
from .expr import Evaluator, Scope
from .loader import Config, VariableDecl, decode_source, rng
from .parse_error import ParseError
from .valueops import EvalError

_RAW_TYPES = (None, "string", "number", "bool", "any")


def _is_raw(decl: VariableDecl | None) -> bool:
    """Like terraform: primitive-typed (or untyped) variables take -var/env values as literal strings."""
    return decl is None or decl.type is None or decl.type[0] in _RAW_TYPES


def _parse_cli_value(name: str, raw: str, decl: VariableDecl | None, source: str, diags: Diagnostics) -> Any:
    if _is_raw(decl):
        return raw
    try:
        from .parser import parse_expression

        return Evaluator(None).eval(parse_expression(raw), Scope())
    except (ParseError, EvalError) as e:
        diags.add_error(
            "Invalid value for input variable",
            f"The value given for var.{name} by {source} is not a valid HCL expression for its type:"
            f" {e.detail}",
            decl.range if decl else None,
        )
        return None


def _var_file(path: Path, decls: Mapping[str, VariableDecl], diags: Diagnostics) -> dict[str, Any]:
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        diags.add_error("Failed to read variables file", f"Cannot read {name}: {e.strerror}.")
        return {}
    text = decode_source(data, name, diags)
    if text is None:
        return {}
    if path.suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            diags.add_error(
                "Invalid JSON in variables file", f"{e.msg}.", SourceRange.at(name, e.lineno, e.colno)
            )
            return {}
        except RecursionError:
            diags.add_error(
                "Invalid JSON in variables file",
                "The JSON nests too deeply to read; flatten the value.",
                SourceRange.at(name, 1),
            )
            return {}
        if not isinstance(obj, dict):
            diags.add_error(
                "Invalid variables file",
                "A JSON variables file must hold an object of name: value.",
                SourceRange.at(name, 1),
            )
            return {}
        return obj
    try:
        from .parser import parse_file_text

        f = parse_file_text(text)
    except ParseError as e:
        diags.add_error(e.summary, e.detail, SourceRange.at(name, e.line, e.column))
        return {}
    out: dict[str, Any] = {}
    for b in f.blocks:
        diags.add_error(
            "Unexpected block", "A variables file holds only name = value assignments.", rng(name, b.pos)
        )
    ev = Evaluator(path.parent)
    for a in f.attributes:
        try:
            out[a.name] = ev.eval(a.expr, Scope())
        except EvalError as e:
            diags.add_error(e.summary, e.detail, rng(name, e.pos or a.pos))
    return out


# Variable files read without being named, as Terraform reads terraform.tfvars and *.auto.tfvars:
# the same names, so a module moved from Terraform keeps its values. mlrt.tfvars is mlrt's own name
# for the first; each is read in this order, each later one winning.
AUTO_VAR_FILES = ("terraform.tfvars", "terraform.tfvars.json", "mlrt.tfvars", "mlrt.tfvars.json")
AUTO_VAR_SUFFIXES = (".auto.tfvars", ".auto.tfvars.json")


def auto_var_files(root: Path) -> list[Path]:
    """The variable files of `root` that are loaded automatically, in precedence order: the fixed
    names first, then every `*.auto.tfvars` / `*.auto.tfvars.json` in lexical order."""
    fixed = [root / n for n in AUTO_VAR_FILES if (root / n).is_file()]
    try:
        names = sorted(e.name for e in root.iterdir() if e.name.endswith(AUTO_VAR_SUFFIXES))
    except OSError:
        names = []
    return fixed + [root / n for n in names if (root / n).is_file()]


def gather_variable_inputs(
    config: Config,
    cli_vars: list[str],
    var_files: list[Path],
    environ: Mapping[str, str],
    auto_files: list[Path] | None = None,
) -> tuple[dict[str, Any], Diagnostics]:
    """Root variable values from every source except defaults (evaluate() applies those).

    Precedence, lowest first: MLRT_VAR_<name> environment variables, `auto_files` (see
    `auto_var_files`), -var-file files in order, -var options in order."""
    diags = Diagnostics()
    decls = config.variables
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if key.startswith("MLRT_VAR_"):
            name = key[len("MLRT_VAR_") :]
            if name in decls:
                values[name] = _parse_cli_value(
                    name, raw, decls[name], f"the environment variable {key}", diags
                )
    for p in [*(auto_files or []), *var_files]:
        for name, v in _var_file(Path(p), decls, diags).items():
            if name not in decls:
                diags.add_warning(
                    "Value for undeclared variable",
                    f'The variables file {p} assigns "{name}", which is not declared in the root module;'
                    " the value is ignored.",
                )
                continue
            values[name] = v
    for item in cli_vars:
        if "=" not in item:
            diags.add_error(
                "Invalid -var option",
                f'The given -var option "{item}" is not correctly specified. It'
                " must be a variable name and value separated by an equals sign, like -var key=value.",
            )
            continue
        name, raw = item.split("=", 1)
        name = name.strip()
        if name not in decls:
            diags.add_error(
                "Value for undeclared variable",
                f'A variable named "{name}" was assigned on the command line, but the root module does'
                f' not declare a variable of that name. To use this value, add a variable "{name}" block.',
            )
            continue
        values[name] = _parse_cli_value(name, raw, decls[name], f"-var {name}=...", diags)
    return values, diags
