"""Plan-time checks of a training's datasets: every source exists, and its files have the
`input_cols` and `label_col` the block names, of types the framework trains on.

What is checked (local files only; a remote source such as s3:// is left to the run, since a
plan should not read buckets):

- each `source` names at least one data file (a missing path, a glob that matches nothing, a
  folder without data files is an error on that dataset's `source` line);
- `label_col` and every `input_cols` entry are columns of the source's files (the error lists
  the missing names and the file's columns, with a "did you mean");
- for xgboost and lightgbm: the label and the features (input_cols, else every column but the
  label) are numeric (integer, floating point or boolean), since both train on a numeric
  matrix; an eval dataset must have the training dataset's features, which the run reads
  from it. PyTorch code reads columns itself, so only presence is checked.

Columns come from the files' footers (`mlrt_iac.runtime.data_schema`), remembered by file stat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlrt_iac.model.suggest import did_you_mean
from mlrt_iac.provider import Attributes, Finding, ProviderContext
from mlrt_iac.values import is_known

from .records import plain

BOOSTED = ("xgboost", "lightgbm")
EVAL_NAMES = ("eval", "valid", "validation")  # mlrt_iac.runtime.spec's
_SHOWN = 20  # columns listed in a message before "and N more"


def _cols(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def train_dataset_name(datasets: Mapping[str, Any]) -> str | None:
    """The dataset a boosted training fits on, as the runtime picks it."""
    if "train" in datasets:
        return "train"
    rest = [n for n in datasets if n not in EVAL_NAMES]
    return rest[0] if rest else None


def _columns(
    ctx: ProviderContext, name: str, sources: list[str], out: list[Finding]
) -> tuple[str, dict[str, Any]] | None:
    """(the source shown in messages, {column: arrow type}) of a dataset's first local file;
    None when a source is missing (reported) or every source is remote."""
    from mlrt_iac.runtime.data_schema import file_schema, is_remote, local_files
    from mlrt_iac.runtime.sources import DataSourceError

    first: tuple[str, dict[str, Any]] | None = None
    for i, src in enumerate(sources):
        if is_remote(src):
            continue
        try:
            files = local_files(src, str(ctx.project_dir))
            if first is None:
                schema = file_schema(files[0])
                first = (
                    src if len(files) == 1 else f"{src} ({files[0]})",
                    dict(zip(schema.names, schema.types)),
                )
        except (DataSourceError, OSError) as exc:
            path: tuple[str | int, ...] = ("dataset", name, "source")
            out.append(
                Finding(
                    "error",
                    "Data source not found"
                    if "not exist" in str(exc) or "matches no" in str(exc)
                    else "Cannot read data source",
                    f'{ctx.address}, dataset "{name}": {str(exc).rstrip(".")}. Relative paths start '
                    f"at the project directory {ctx.project_dir}.",
                    path + ((i,) if len(sources) > 1 else ()),
                )
            )
            return None
    return first


def dataset_findings(ctx: ProviderContext, desired: Attributes) -> list[Finding]:
    """Every dataset problem of one training; see the module docstring."""
    datasets = desired.get("dataset")
    framework = desired.get("framework")
    if not is_known(datasets) or not isinstance(datasets, Mapping):
        return []
    datasets = plain(dict(datasets))
    out: list[Finding] = []
    boosted = framework in BOOSTED
    train_name = train_dataset_name(datasets) if boosted else None
    train_features: list[str] | None = None
    order = sorted(datasets, key=lambda n: n != train_name)  # the train set first
    for name in order:
        ds = datasets[name] or {}
        sources = ds.get("source") or []
        sources = [sources] if isinstance(sources, str) else list(sources)
        if not sources or not all(isinstance(s, str) for s in sources):
            continue
        found = _columns(ctx, name, sources, out)
        if found is None:
            continue
        shown, cols = found
        names = list(cols)
        where = f'{ctx.address}, dataset "{name}"'
        label = ds.get("label_col")
        if isinstance(label, str) and label not in cols:
            out.append(
                Finding(
                    "error",
                    "Label column not found",
                    f'{where}: label_col "{label}" is not a column of {shown}.{did_you_mean(label, names)} '
                    f"Its columns: {_cols(names)}.",
                    ("dataset", name, "label_col"),
                )
            )
            label = None
        inputs = ds.get("input_cols")
        if isinstance(inputs, list):
            missing = [c for c in inputs if isinstance(c, str) and c not in cols]
            if missing:
                hint = did_you_mean(missing[0], names) if len(missing) == 1 else ""
                out.append(
                    Finding(
                        "error",
                        "Input columns not found",
                        f"{where}: input_cols lists {_quoted(missing)}, not {'a column' if len(missing) == 1 else 'columns'} "
                        f"of {shown}.{hint} Its columns: {_cols(names)}.",
                        ("dataset", name, "input_cols"),
                    )
                )
                continue
            features = [c for c in inputs if isinstance(c, str)]
        else:
            features = [c for c in names if c != label]
        if not boosted:
            continue
        if name == train_name:
            train_features = features
        elif train_features is not None and not isinstance(inputs, list):
            absent = [c for c in train_features if c not in cols]
            if absent:
                out.append(
                    Finding(
                        "error",
                        "Evaluation data lacks training features",
                        f'{where}: the model is trained on the features of dataset "{train_name}", but '
                        f"{shown} has no {_quoted(absent[:_SHOWN])}. Its columns: {_cols(names)}.",
                        ("dataset", name, "source"),
                    )
                )
                continue
            features = [c for c in train_features if c in cols]
        out.extend(_type_findings(where, framework, name, shown, cols, features, label, inputs))
    return out


def _type_findings(
    where: str,
    framework: Any,
    name: str,
    shown: str,
    cols: Mapping[str, Any],
    features: list[str],
    label: Any,
    inputs: Any,
) -> list[Finding]:
    from mlrt_iac.runtime.data_schema import is_numeric

    out: list[Finding] = []
    bad = [c for c in features if c in cols and not is_numeric(cols[c])]
    if bad:
        them = "it" if len(bad) == 1 else "them"
        listed = ", ".join(f"{c} ({cols[c]})" for c in bad[:_SHOWN])
        fix = (
            f"Convert {them} to numbers in the data, or leave {them} out of input_cols."
            if isinstance(inputs, list)
            else f"Convert {them} to numbers in the data, or list the numeric features in input_cols."
        )
        out.append(
            Finding(
                "error",
                "Feature columns are not numeric",
                f"{where}: {framework} trains on numeric columns (integer, floating point or boolean), "
                f"but in {shown} {'this one is' if len(bad) == 1 else 'these are'} not: {listed}. {fix}",
                ("dataset", name, "input_cols") if isinstance(inputs, list) else ("dataset", name),
            )
        )
    if isinstance(label, str) and label in cols and not is_numeric(cols[label]):
        out.append(
            Finding(
                "error",
                "Label column is not numeric",
                f'{where}: {framework} needs a numeric label, but label_col "{label}" is {cols[label]} in '
                f"{shown}. Encode the classes as integers (0, 1, ...) in the data.",
                ("dataset", name, "label_col"),
            )
        )
    return out
