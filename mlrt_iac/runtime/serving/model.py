"""Load a model artifact (metadata.json + model file) into vectorised prediction functions.

Each function takes a float matrix (rows x input columns) and returns one result per row: a 1-D
array (a number per row) or a 2-D array (a list per row). ``predict`` is the framework's native
prediction, exactly what ``Booster.predict`` returns (for XGBoost ``binary:logistic`` that is the
probability of class 1, as in Snowflake's model registry); ``predict_proba`` is offered where the
model is a classifier and returns one probability per class.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlrt_iac.runtime.serving.errors import ModelLoadError

PredictFn = Callable[[np.ndarray], np.ndarray]

FRAMEWORKS = ("xgboost", "lightgbm", "pytorch")
KNOWN_FUNCTIONS: tuple[str, ...] = ("predict", "predict_proba")


@dataclass
class LoadedModel:
    """A model ready to serve: its input columns and its enabled functions by name."""

    uri: str
    framework: str
    input_cols: list[str]
    functions: dict[str, PredictFn]
    metadata: dict[str, Any] = field(default_factory=dict)
    input_dtype: type = np.float64


def model_dir_from_uri(model_uri: str | Path) -> Path:
    """The local directory of a model URI (a path or a ``file://`` URI)."""
    text = str(model_uri)
    if text.startswith("file://"):
        text = text[len("file://") :]
    return Path(text)


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """Read and check ``metadata.json``; every problem says which file and what to do."""
    path = model_dir / "metadata.json"
    if not path.is_file():
        raise ModelLoadError(
            f"No model metadata at {path}: the model_uri must be a directory written by an mlrt "
            "training (metadata.json plus the model file)."
        )
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot read {path}: {exc}. Re-run the training to rewrite it.") from exc
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{path} must hold a JSON object.")
    framework = meta.get("framework")
    if framework not in FRAMEWORKS:
        raise ModelLoadError(
            f"{path}: unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}."
        )
    cols = meta.get("input_cols")
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
        raise ModelLoadError(f"{path}: input_cols must be a non-empty list of column names.")
    model_file = meta.get("model_file")
    if not isinstance(model_file, str) or not (model_dir / model_file).is_file():
        raise ModelLoadError(f"{path}: model_file {model_file!r} does not exist in {model_dir}.")
    return meta


def load_model(
    model_uri: str | Path, functions: tuple[str, ...] | None = None, threads: int = 1
) -> LoadedModel:
    """Load the artifact at ``model_uri`` and keep the requested functions (all available if None)."""
    model_dir = model_dir_from_uri(model_uri)
    meta = read_metadata(model_dir)
    path = model_dir / str(meta["model_file"])
    framework = str(meta["framework"])
    loaders: dict[str, Callable[[Path, dict[str, Any], int], dict[str, PredictFn]]] = {
        "xgboost": _xgboost_functions,
        "lightgbm": _lightgbm_functions,
        "pytorch": _torch_functions,
    }
    try:
        available = loaders[framework](path, meta, threads)
    except ModelLoadError:
        raise
    except Exception as exc:  # the libraries raise many types; the user needs the file and cause
        raise ModelLoadError(f"Cannot load the {framework} model {path}: {exc}") from exc
    chosen = _choose(available, functions, path)
    dtype: type = np.float32 if framework == "pytorch" else np.float64
    return LoadedModel(
        uri=str(model_dir),
        framework=framework,
        input_cols=list(meta["input_cols"]),
        functions=chosen,
        metadata=meta,
        input_dtype=dtype,
    )


def _choose(
    available: dict[str, PredictFn], wanted: tuple[str, ...] | None, path: Path
) -> dict[str, PredictFn]:
    if wanted is None:
        return available
    unknown = [name for name in wanted if name not in KNOWN_FUNCTIONS]
    if unknown:
        raise ModelLoadError(
            f"Unknown function {', '.join(unknown)}; a service offers {', '.join(KNOWN_FUNCTIONS)}."
        )
    missing = [name for name in wanted if name not in available]
    if missing:
        raise ModelLoadError(
            f"The model {path} has no function {', '.join(missing)}; it offers "
            f"{', '.join(sorted(available))}. Remove the others from the service's functions."
        )
    return {name: available[name] for name in wanted}


def _two_columns(p: np.ndarray) -> np.ndarray:
    """Binary probabilities of class 1 as [P(0), P(1)] per row."""
    p = p.reshape(-1)
    return np.column_stack([1.0 - p, p])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


def _xgboost_functions(path: Path, meta: dict[str, Any], threads: int) -> dict[str, PredictFn]:
    from ..libs import import_xgboost

    xgb = import_xgboost()

    booster = xgb.Booster()
    booster.load_model(str(path))
    booster.set_param({"nthread": threads})
    objective = str(json.loads(booster.save_config())["learner"]["objective"]["name"])
    names = booster.feature_names
    n_cols = len(meta["input_cols"])
    try:  # inplace_predict skips the DMatrix and equals Booster.predict; gblinear lacks it
        booster.inplace_predict(np.zeros((1, n_cols)))

        def predict(x: np.ndarray) -> np.ndarray:
            out: np.ndarray = booster.inplace_predict(x)
            return out
    except Exception:

        def predict(x: np.ndarray) -> np.ndarray:
            out: np.ndarray = booster.predict(xgb.DMatrix(x, feature_names=names, nthread=threads))
            return out

    funcs: dict[str, PredictFn] = {"predict": predict}
    if objective == "binary:logistic":
        funcs["predict_proba"] = lambda x: _two_columns(predict(x))
    elif objective == "binary:logitraw":
        funcs["predict_proba"] = lambda x: _two_columns(_sigmoid(predict(x).astype(np.float64)))
    elif objective == "multi:softprob":
        funcs["predict_proba"] = predict
    elif objective == "multi:softmax":
        funcs["predict_proba"] = lambda x: _softmax(
            booster.inplace_predict(x, predict_type="margin").astype(np.float64)
        )
    return funcs


def _lightgbm_objective(path: Path, booster: Any, meta: dict[str, Any]) -> str:
    objective = booster.params.get("objective") if isinstance(booster.params, dict) else None
    if not objective:
        with path.open() as handle:
            for line in handle:
                if line.startswith("objective="):
                    objective = line.split("=", 1)[1].split()[0]
                    break
                if line.startswith("Tree="):
                    break
    return str(objective or meta.get("objective") or "")


def _lightgbm_functions(path: Path, meta: dict[str, Any], threads: int) -> dict[str, PredictFn]:
    from ..libs import import_lightgbm

    lgb = import_lightgbm()

    booster = lgb.Booster(model_file=str(path))
    objective = _lightgbm_objective(path, booster, meta)

    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(booster.predict(x, num_threads=threads))

    funcs: dict[str, PredictFn] = {"predict": predict}
    if objective.startswith(("binary", "cross_entropy", "xentropy")):
        funcs["predict_proba"] = lambda x: _two_columns(predict(x))
    elif objective.startswith(("multiclass", "softmax", "multiclassova", "ova")):
        funcs["predict_proba"] = predict
    return funcs


def _torch_functions(path: Path, meta: dict[str, Any], threads: int) -> dict[str, PredictFn]:
    import torch

    torch.set_num_threads(threads)
    module = torch.jit.load(str(path), map_location="cpu")
    module.eval()

    def raw(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        arr: np.ndarray = out.detach().cpu().numpy()
        return arr

    def predict(x: np.ndarray) -> np.ndarray:
        out = raw(x)
        return out.reshape(-1) if out.ndim == 2 and out.shape[1] == 1 else out

    funcs: dict[str, PredictFn] = {"predict": predict}
    num_classes = meta.get("num_classes")
    if isinstance(num_classes, int) and num_classes >= 2:

        def predict_proba(x: np.ndarray) -> np.ndarray:
            out = raw(x).astype(np.float64)
            if out.ndim == 2 and out.shape[1] == num_classes:
                return _softmax(out)
            return _two_columns(_sigmoid(out))  # one logit per row: a binary classifier

        funcs["predict_proba"] = predict_proba
    return funcs
