"""Models the service builds from the project's own code: ``model_class = "module:Name"``.

Construction. ``Name`` is looked up in ``module``, imported with the project directory first on
``sys.path`` (as trainings' entrypoints are):

- a class is called with no arguments, ``Name()``; when the object then has a ``load`` method it
  is called once as ``obj.load(model_dir)`` (a ``pathlib.Path``), to read whatever the training
  wrote there;
- a function is a loader: ``Name(model_dir)`` (or ``Name()`` when it takes no argument) returns
  the model object.

A PyTorch state dict (``torch.save(model.state_dict(), ...)``) is then loaded into the object
when it is a ``torch.nn.Module`` (see ``model.py``). Any other object is a *custom model*: each
name in the service's ``functions`` must be one of its public methods (not ``load``, not starting
with ``_``).

Calling a custom method. Rows arrive as Snowflake's service functions send them: per column a
number, a string, a boolean or null, as the column's type in metadata.json's ``input_dtypes``
says (``parsing.parse_table_request`` checks them). The method gets one ``pandas.DataFrame``
with the model's ``input_cols`` as columns, one row per request row (the rows of several waiting
requests may be merged into one call): numeric columns as float64 (null is NaN; int64 when the
column is integer and has no null), boolean columns as bool (object with None when a null is
present), string columns as object (str or None, also under pandas 3). It returns one result per row, in order: a
``pandas.DataFrame`` (one column: its values; several: a ``{column: value}`` object per row), a
``pandas.Series``, a numpy array or torch tensor (1-D: a value per row; 2-D: a list per row, e.g.
an embedding) or a list. A result may be a number, string, boolean, null or a list/object of
them; the answer is ``{"data": [[row_index, result], ...]}``.
"""

from __future__ import annotations

import importlib
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlrt_iac.runtime.serving.errors import ModelLoadError

# kinds of input column, from metadata.json's input_dtypes
NUMBER, STRING, BOOL, ANY = "number", "string", "bool", "any"
NOT_FUNCTIONS = frozenset({"load"})


def column_kind(dtype_name: object) -> str:
    """The kind of values a column takes, from its numpy-style dtype name in metadata.json."""
    if not isinstance(dtype_name, str) or not dtype_name:
        return ANY
    lowered = dtype_name.lower()
    if lowered in ("str", "string", "large_string", "utf8", "large_utf8", "object"):
        return STRING  # arrow strings read as pandas object columns
    if lowered in ("bool", "boolean"):
        return BOOL
    try:
        kind = np.dtype(dtype_name).kind
    except TypeError:
        return ANY
    if kind in "iuf":
        return NUMBER
    if kind == "b":
        return BOOL
    if kind in "OUS":
        return STRING
    return ANY


def column_kinds(meta: Mapping[str, Any], input_cols: Sequence[str]) -> tuple[str, ...]:
    dtypes = meta.get("input_dtypes")
    dtypes = dtypes if isinstance(dtypes, dict) else {}
    return tuple(column_kind(dtypes.get(c)) for c in input_cols)


def import_model_class(spec: str, project_dir: Path | None) -> Any:
    """The class or loader function ``spec`` ("module:Name") names; ModelLoadError says why not."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ModelLoadError(
            f'model_class "{spec}" is not of the form "module:Name" (for example "net:Net" for a '
            "class Net in net.py of the project)."
        )
    where = Path(project_dir) if project_dir is not None else Path.cwd()
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may raise anything while importing
        raise ModelLoadError(
            f'model_class "{spec}": cannot import the module {module_name!r} (looked in the '
            f"project directory {where} and the installed packages): {type(exc).__name__}: {exc}"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ModelLoadError(
                f'model_class "{spec}": the module {module_name!r} ({getattr(module, "__file__", "?")}) '
                f"has no {attr!r}. Name a class or a loader function defined there."
            )
    if not callable(target):
        raise ModelLoadError(f'model_class "{spec}" is not a class or a function.')
    return target


def build_object(spec: str, model_dir: Path, project_dir: Path | None) -> Any:
    """Import ``spec`` and make the model object (see the module docstring)."""
    target = import_model_class(spec, project_dir)
    try:
        if inspect.isclass(target):
            obj = target()
            load = getattr(obj, "load", None)
            if callable(load):
                load(model_dir)
            return obj
        takes_dir = _positional_params(target) >= 1
        return target(model_dir) if takes_dir else target()
    except ModelLoadError:
        raise
    except Exception as exc:
        what = "Making the model object" if inspect.isclass(target) else "The loader function"
        raise ModelLoadError(f'model_class "{spec}": {what} failed with {type(exc).__name__}: {exc}') from exc


def _positional_params(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def public_methods(obj: Any) -> list[str]:
    """The names a custom model can serve: its public callables, ``load`` excepted."""
    names = []
    for name in dir(obj):
        if name.startswith("_") or name in NOT_FUNCTIONS:
            continue
        try:
            value = getattr(obj, name)
        except Exception:
            continue
        if callable(value) and not inspect.isclass(value):
            names.append(name)
    return names


class TableFunction:
    """A custom model's method served over typed rows (see the module docstring).

    Called with the object matrix ``parse_table_request`` builds (rows x input columns, Python
    values); returns a 1-D object array with one JSON-ready result per row.
    """

    def __init__(
        self, name: str, method: Callable[[Any], Any], input_cols: Sequence[str], kinds: Sequence[str]
    ) -> None:
        self.name = name
        self.method = method
        self.input_cols = list(input_cols)
        self.kinds = tuple(kinds)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        frame = rows_to_frame(rows, self.input_cols, self.kinds)
        return results_per_row(self.method(frame), len(frame), self.name)


def rows_to_frame(rows: np.ndarray, input_cols: Sequence[str], kinds: Sequence[str]) -> Any:
    """A pandas DataFrame of the request's columns, typed by their kinds."""
    import pandas as pd

    columns: dict[str, Any] = {}
    n = rows.shape[0]
    for j, (name, kind) in enumerate(zip(input_cols, kinds)):
        values = rows[:, j] if n else np.empty(0, dtype=object)
        has_null = any(v is None for v in values)
        if kind == NUMBER:
            if not has_null and all(isinstance(v, int) for v in values):
                columns[name] = np.array(values, dtype=np.int64)
            else:
                columns[name] = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
        elif kind == BOOL and not has_null:
            columns[name] = np.array(values, dtype=bool)
        else:  # object, kept as such: pandas 3 would make strings its str dtype, None a NaN
            columns[name] = pd.Series(np.array(values, dtype=object), dtype=object, index=pd.RangeIndex(n))
    return pd.DataFrame(columns, index=pd.RangeIndex(n), columns=list(input_cols))


def results_per_row(out: Any, n: int, name: str) -> np.ndarray:
    """One JSON-ready result per row, from what a method returned; TypeError when it is not."""
    import pandas as pd

    items: Sequence[Any]
    if isinstance(out, pd.DataFrame):
        if out.shape[1] == 1:
            items = list(out.iloc[:, 0])
        else:
            items = out.to_dict(orient="records")
    elif isinstance(out, pd.Series):
        items = list(out)
    elif hasattr(out, "detach") and hasattr(out, "numpy"):  # a torch tensor
        items = list(out.detach().cpu().numpy())
    elif isinstance(out, np.ndarray):
        if out.ndim == 0:
            raise TypeError(f"{name} returned a single value; return one result per row ({n} rows).")
        items = list(out)
    elif isinstance(out, (list, tuple)):
        items = out
    else:
        raise TypeError(
            f"{name} returned {type(out).__name__}; return one result per row (a DataFrame, Series, "
            "array or list)."
        )
    if len(items) != n:
        raise TypeError(f"{name} returned {len(items)} results for {n} rows; return one per row.")
    answer = np.empty(n, dtype=object)
    for i, item in enumerate(items):
        answer[i] = to_json_value(item)
    return answer


def to_json_value(value: Any) -> Any:
    """A result as JSON: numpy scalars and arrays, tensors, NaN and pandas' NA made plain."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, int):
        return value
    if isinstance(value, np.generic):
        return to_json_value(value.item())
    if isinstance(value, np.ndarray):
        return [to_json_value(v) for v in value.tolist()]
    if hasattr(value, "detach") and hasattr(value, "tolist"):  # a torch tensor
        return to_json_value(np.asarray(value.detach().cpu().numpy()))
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value)
