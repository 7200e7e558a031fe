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


def save_torch_model(
    model: Any,
    example_input: Any = None,
    *,
    model_dir: str | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Path | None:
    """Save a TorchScript model.pt (scripted, or traced with example_input when scripting
    fails) and its metadata, from rank 0 only; other ranks return None.

    Unwraps DistributedDataParallel. Input columns come from the context's training dataset.
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
    try:
        scripted = torch.jit.script(inner)
    except Exception:
        if example_input is None:
            raise
        scripted = torch.jit.trace(inner, example_input)
    path = target / MODEL_FILES["pytorch"]
    torch.jit.save(scripted, str(path))
    write_torch_metadata(target, ctx.dataset_specs(), metrics or ctx.get_metrics_reporter().last, "")
    return path


def write_torch_metadata(
    model_dir: Path,
    datasets: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, Any],
    input_fingerprint: str,
) -> Path:
    """metadata.json for a PyTorch run, columns taken from its training dataset's spec."""
    import torch

    from mlrt_iac.runtime.data_connector import DataConnector

    cols: list[str] = []
    dtypes: dict[str, str] = {}
    label = None
    name = "train" if "train" in datasets else next(iter(datasets), None)
    if name is not None:
        dc = DataConnector.from_dataset(datasets[name])
        label = dc.label_col
        cols = dc.features()
        dtypes = input_dtypes(dc.schema, cols)
    model_file = MODEL_FILES["pytorch"] if (model_dir / MODEL_FILES["pytorch"]).exists() else None
    return write_metadata(
        model_dir,
        framework="pytorch",
        framework_version=torch.__version__,
        model_file=model_file,
        input_cols=cols,
        dtypes=dtypes,
        label_col=label,
        objective=None,
        num_classes=None,
        metrics=metrics,
        input_fingerprint=input_fingerprint,
    )
