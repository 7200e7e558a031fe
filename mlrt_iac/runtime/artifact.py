"""Model artifacts: the model file plus metadata.json, the only thing services load.

One writer (rank 0) so a distributed run leaves exactly one model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mlrt_iac import __version__ as MLRT_VERSION
from mlrt_iac.runtime.events import clean_metrics, now_iso

METADATA_FILE = "metadata.json"
MODEL_FILES = {"xgboost": "model.ubj", "lightgbm": "model.txt", "pytorch": "model.pt"}
TORCH_EXPORT_FILE = "model.pt2"  # save_torch_model's torch.export program


def arrow_dtype_name(typ: pa.DataType) -> str:
    """numpy-style dtype name of an arrow type ("float64", "int64", "bool", "object")."""
    try:
        return np.dtype(typ.to_pandas_dtype()).name
    except (NotImplementedError, TypeError):
        return str(typ)


def input_dtypes(schema: pa.Schema, columns: Sequence[str]) -> dict[str, str]:
    return {c: arrow_dtype_name(schema.field(c).type) for c in columns}


def write_metadata(
    model_dir: str | os.PathLike[str],
    *,
    framework: str,
    framework_version: str,
    model_file: str | None,
    input_cols: Sequence[str],
    dtypes: Mapping[str, str],
    label_col: str | None,
    objective: str | None,
    num_classes: int | None,
    metrics: Mapping[str, Any],
    input_fingerprint: str,
) -> Path:
    """Write metadata.json atomically (temp file + rename) and return its path."""
    path = Path(model_dir) / METADATA_FILE
    doc = {
        "framework": framework,
        "framework_version": framework_version,
        "mlrt_version": MLRT_VERSION,
        "model_file": model_file,
        "input_cols": list(input_cols),
        "input_dtypes": dict(dtypes),
        "label_col": label_col,
        "objective": objective,
        "num_classes": num_classes,
        "metrics": clean_metrics(dict(metrics)),
        "input_fingerprint": input_fingerprint,
        "created_at": now_iso(),
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str))
    os.replace(tmp, path)
    return path


def read_metadata(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    data = json.loads((Path(model_dir) / METADATA_FILE).read_text())
    assert isinstance(data, dict)
    return data


def torch_model_file(model_dir: str | os.PathLike[str]) -> str | None:
    """The PyTorch model file a run left in ``model_dir``: ``model.pt`` (what
    ``torch.save(model.state_dict(), ...)`` is told to write) or ``model.pt2`` (``save_torch_model``'s
    torch.export program), or None."""
    for name in (MODEL_FILES["pytorch"], TORCH_EXPORT_FILE):
        if (Path(model_dir) / name).is_file():
            return name
    return None


def save_torch_model(
    model: Any,
    example_input: Any = None,
    *,
    model_dir: str | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Path | None:
    """Save ``model`` as a self-contained ``torch.export`` program (``model.pt2``) and its metadata,
    from rank 0 only; other ranks return None. A service loads it without ``model_class``.

    ``example_input`` is one batch the model takes (default: a float32 zeros tensor of 2 rows x
    the training dataset's input columns); its first dimension (rows) is exported as dynamic.
    Unwraps DistributedDataParallel. No deprecated API (TorchScript is deprecated in torch 2.13).
    A model torch.export cannot capture is an error that says to save its state dict instead:
    ``torch.save(model.state_dict(), <model dir>/model.pt)`` with ``model_class`` on the service.
    """
    import torch

    from mlrt_iac.runtime.context import get_context

    ctx = get_context()
    if ctx.get_rank() != 0:
        return None
    target = Path(model_dir or ctx.get_model_dir())
    target.mkdir(parents=True, exist_ok=True)
    inner = getattr(model, "module", model)
    inner = inner.eval() if hasattr(inner, "eval") else inner
    if example_input is None:
        cols, _, _ = _torch_columns(ctx.dataset_specs())
        example_input = torch.zeros(2, max(len(cols), 1), dtype=torch.float32)
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    dynamic = tuple(
        {0: torch.export.Dim.AUTO} if isinstance(a, torch.Tensor) and a.dim() else None for a in args
    )
    try:
        program = torch.export.export(inner, args, dynamic_shapes=dynamic)
    except Exception as exc:
        raise RuntimeError(
            f"torch.export cannot capture {type(inner).__name__}: {exc}. Save its weights instead: "
            "torch.save(model.state_dict(), os.path.join(get_context().get_model_dir(), 'model.pt')) "
            'and set model_class = "module:Class" on the service.'
        ) from exc
    path = target / TORCH_EXPORT_FILE
    torch.export.save(program, str(path))
    write_torch_metadata(target, ctx.dataset_specs(), metrics or ctx.get_metrics_reporter().last, "")
    return path


def _torch_columns(datasets: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], dict[str, str], str | None]:
    """Input columns, their dtypes and the label of a PyTorch run's training dataset."""
    from mlrt_iac.runtime.data_connector import DataConnector

    name = "train" if "train" in datasets else next(iter(datasets), None)
    if name is None:
        return [], {}, None
    dc = DataConnector.from_dataset(datasets[name])
    cols = dc.features()
    return cols, input_dtypes(dc.schema, cols), dc.label_col


def write_torch_metadata(
    model_dir: Path,
    datasets: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, Any],
    input_fingerprint: str,
) -> Path:
    """metadata.json for a PyTorch run, columns taken from its training dataset's spec."""
    import torch

    cols, dtypes, label = _torch_columns(datasets)
    return write_metadata(
        model_dir,
        framework="pytorch",
        framework_version=torch.__version__,
        model_file=torch_model_file(model_dir),
        input_cols=cols,
        dtypes=dtypes,
        label_col=label,
        objective=None,
        num_classes=None,
        metrics=metrics,
        input_fingerprint=input_fingerprint,
    )
