"""Load a model artifact (metadata.json + model file) into vectorised prediction functions.

Each function of a framework model takes a float matrix (rows x input columns) and returns one
result per row: a 1-D array (a number per row) or a 2-D array (a list per row). ``predict`` is the
framework's native prediction, exactly what ``Booster.predict`` returns (for XGBoost
``binary:logistic`` that is the probability of class 1, as in Snowflake's model registry);
``predict_proba`` is offered where the model is a classifier and returns one probability per class.

PyTorch. ``model.pt`` may be any of:

- a state dict, ``torch.save(model.state_dict(), path)`` (the default way to save): the service's
  ``model_class`` ("module:Class" or a loader function, see ``custom.py``) makes the module, the
  weights are loaded with ``torch.load(path, weights_only=True)`` and ``load_state_dict`` (strict:
  missing or unexpected keys and shape mismatches stop the server at start, naming them), and
  ``eval()`` is called;
- a ``torch.export`` program (``torch.export.save``), loaded with ``torch.export.load``;
- a TorchScript archive (``torch.jit.save``, deprecated in torch 2.13; still loaded).

Its ``predict`` is the module's forward on a float32 tensor of the input columns (a (rows, 1)
output becomes a number per row); ``predict_proba`` (softmax, or sigmoid of one logit) when the
metadata records ``num_classes``. A self-contained program (export, TorchScript) needs no
``model_class``; one that is given is then not used.

Custom models. With ``model_class`` naming anything that is not a ``torch.nn.Module`` (for any
framework, or ``"framework": "custom"`` in a hand-written metadata.json), the object's public
methods named in ``functions`` are served over typed rows (``custom.TableFunction``): numbers,
strings, booleans and nulls per column. A ``torch.nn.Module`` may also serve its own methods
besides ``predict`` / ``predict_proba`` that way (``encode`` of a sentence encoder).
"""

from __future__ import annotations

import json
import logging
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlrt_iac.runtime.serving.custom import (
    TableFunction,
    build_object,
    column_kinds,
    public_methods,
)
from mlrt_iac.runtime.serving.errors import ModelLoadError

LOG = logging.getLogger("mlrt.serving")

PredictFn = Callable[[np.ndarray], np.ndarray]

FRAMEWORKS = ("xgboost", "lightgbm", "pytorch", "custom")
# the functions a framework model (no model_class) offers; a custom model offers its methods
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
    # per input column "number", "string", "bool" or "any": how TableFunction rows are checked
    column_kinds: tuple[str, ...] = ()


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
    if framework == "custom" and model_file is None:
        return meta  # the model class reads the directory itself
    if not isinstance(model_file, str) or not (model_dir / model_file).is_file():
        raise ModelLoadError(f"{path}: model_file {model_file!r} does not exist in {model_dir}.")
    return meta


def load_model(
    model_uri: str | Path,
    functions: tuple[str, ...] | None = None,
    threads: int = 1,
    model_class: str | None = None,
    project_dir: str | Path | None = None,
) -> LoadedModel:
    """Load the artifact at ``model_uri`` and keep the requested functions (all available if None).

    ``model_class`` ("module:Name") builds the model from the project's code, imported with
    ``project_dir`` (default: the current directory) first on sys.path.
    """
    model_dir = model_dir_from_uri(model_uri)
    meta = read_metadata(model_dir)
    framework = str(meta["framework"])
    path = model_dir / str(meta["model_file"]) if meta.get("model_file") else model_dir
    input_cols = list(meta["input_cols"])
    kinds = column_kinds(meta, input_cols)
    where = Path(project_dir) if project_dir is not None else None
    try:
        if framework == "pytorch":
            available = _torch_functions(path, meta, threads, model_class, where, kinds)
        elif model_class is not None:
            obj = build_object(model_class, model_dir, where)
            available = _custom_functions(obj, input_cols, kinds)
        elif framework == "custom":
            raise ModelLoadError(
                f"{model_dir / 'metadata.json'}: a custom model needs the service's model_class "
                '= "module:Class" (the class or loader function in the project that makes it).'
            )
        elif framework == "xgboost":
            available = _xgboost_functions(path, meta, threads)
        else:
            available = _lightgbm_functions(path, meta, threads)
    except ModelLoadError:
        raise
    except Exception as exc:  # the libraries raise many types; the user needs the file and cause
        raise ModelLoadError(f"Cannot load the {framework} model {path}: {exc}") from exc
    chosen = _choose(available, functions, path, model_class)
    dtype: type = np.float32 if framework == "pytorch" else np.float64
    return LoadedModel(
        uri=str(model_dir),
        framework=framework,
        input_cols=input_cols,
        functions=chosen,
        metadata=meta,
        input_dtype=dtype,
        column_kinds=kinds,
    )


def _choose(
    available: dict[str, PredictFn], wanted: tuple[str, ...] | None, path: Path, model_class: str | None
) -> dict[str, PredictFn]:
    if wanted is None:
        return available
    custom = any(isinstance(fn, TableFunction) for fn in available.values())
    unknown = [name for name in wanted if name not in KNOWN_FUNCTIONS and name not in available]
    if unknown and not custom:
        raise ModelLoadError(
            f"Unknown function {', '.join(unknown)}; a service offers {', '.join(KNOWN_FUNCTIONS)}"
            " (any other method needs model_class naming a class that has it)."
        )
    missing = [name for name in wanted if name not in available]
    if missing:
        owner = f'The model class "{model_class}"' if model_class else f"The model {path}"
        raise ModelLoadError(
            f"{owner} has no function {', '.join(missing)}; it offers "
            f"{', '.join(sorted(available)) or 'none'}. Remove the others from the service's functions."
        )
    return {name: available[name] for name in wanted}


def _custom_functions(obj: Any, input_cols: list[str], kinds: tuple[str, ...]) -> dict[str, PredictFn]:
    """Every public method of a custom model object, over typed rows."""
    return {name: TableFunction(name, getattr(obj, name), input_cols, kinds) for name in public_methods(obj)}


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


def torch_file_kind(path: Path) -> str:
    """What ``torch.save`` / ``torch.export.save`` / ``torch.jit.save`` wrote at ``path``:
    "export", "torchscript", "checkpoint" (a pickle: a state dict, or a whole module) or "other"."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "other"  # torch.save with _use_new_zipfile_serialization=False, or not torch at all
    tails = {name.split("/", 1)[-1] for name in names}
    if "archive_format" in tails or any(t.startswith("models/") for t in tails):
        return "export"
    if "constants.pkl" in tails or any(t.startswith("code/") for t in tails):
        return "torchscript"
    if "data.pkl" in tails:
        return "checkpoint"
    return "other"


def _torch_functions(
    path: Path,
    meta: dict[str, Any],
    threads: int,
    model_class: str | None,
    project_dir: Path | None,
    kinds: tuple[str, ...],
) -> dict[str, PredictFn]:
    import torch

    torch.set_num_threads(threads)
    kind = torch_file_kind(path)
    extra: dict[str, PredictFn] = {}
    if kind == "export":
        module: Any = torch.export.load(str(path)).module()
    elif kind == "torchscript":
        with warnings.catch_warnings():  # loading what an older training wrote is not the user's fault
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
        module.eval()
    else:
        if model_class is None:
            raise ModelLoadError(
                f"{path} is not TorchScript or a torch.export program but a checkpoint saved with "
                "torch.save (a state dict, as torch.save(model.state_dict(), path) writes): the "
                'service needs the module\'s class to rebuild it. Set model_class = "module:Class" '
                "on the service (the torch.nn.Module subclass in the project, made with Class(), or "
                "a loader function module:fn(model_dir) returning the module)."
            )
        obj = build_object(model_class, path.parent, project_dir)
        if not isinstance(obj, torch.nn.Module):
            return _custom_functions(obj, list(meta["input_cols"]), kinds)
        _load_state_dict(obj, path, model_class)
        obj.eval()
        module = obj
        extra = {
            name: TableFunction(name, getattr(obj, name), list(meta["input_cols"]), kinds)
            for name in _own_methods(obj)
        }
    if model_class is not None and kind in ("export", "torchscript"):
        LOG.info("%s is a self-contained %s program; model_class %s is not used", path, kind, model_class)

    def raw(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        arr: np.ndarray = out.detach().cpu().numpy()
        return arr

    def predict(x: np.ndarray) -> np.ndarray:
        out = raw(x)
        return out.reshape(-1) if out.ndim == 2 and out.shape[1] == 1 else out

    funcs: dict[str, PredictFn] = {**extra, "predict": predict}
    num_classes = meta.get("num_classes")
    if isinstance(num_classes, int) and num_classes >= 2:

        def predict_proba(x: np.ndarray) -> np.ndarray:
            out = raw(x).astype(np.float64)
            if out.ndim == 2 and out.shape[1] == num_classes:
                return _softmax(out)
            return _two_columns(_sigmoid(out))  # one logit per row: a binary classifier

        funcs["predict_proba"] = predict_proba
    return funcs


def _own_methods(module: Any) -> list[str]:
    """Public methods a torch.nn.Module subclass defines itself (``encode``), not nn.Module's."""
    import torch

    base = set(dir(torch.nn.Module))
    return [
        name
        for name in public_methods(module)
        if name not in base
        and name not in KNOWN_FUNCTIONS
        and not isinstance(getattr(module, name), torch.nn.Module)
    ]


def _load_state_dict(module: Any, path: Path, model_class: str) -> None:
    """Load the weights at ``path`` into ``module``; ModelLoadError naming what does not match."""
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"Cannot read {path} as a state dict ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "Save the weights with torch.save(model.state_dict(), path) (a whole pickled module "
            "cannot be loaded safely), or save a torch.export program."
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a checkpoint dict {"state_dict": ..., "epoch": ...}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(
            f"{path} holds a {type(state).__name__}, not a state dict of tensors. Save it with "
            "torch.save(model.state_dict(), path)."
        )
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} (saved {tuple(state[k].shape)}, {model_class} has {tuple(own[k].shape)})"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {_some(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_some(unexpected)}")
        if shapes:
            parts.append(f"different shapes: {_some(shapes)}")
        raise ModelLoadError(
            f"The state dict {path} does not match model_class {model_class}: {'; '.join(parts)}. "
            "Name the class the training saved (with the same constructor arguments)."
        )
    try:
        module.load_state_dict(state, strict=True)
    except Exception as exc:
        raise ModelLoadError(
            f"The state dict {path} does not match model_class {model_class}: {exc}"
        ) from exc


def _some(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
