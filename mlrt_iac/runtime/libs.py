"""Importing the boosting libraries without scikit-learn.

XGBoost and LightGBM import scikit-learn eagerly when it is installed, only to offer their
sklearn-style wrappers; that costs over a second per process here. Trainings and inference
servers use the native Booster APIs, so the import hides scikit-learn for its duration and
restores it afterwards (user code may still import it).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any


def _without_sklearn(name: str) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    if "sklearn" in sys.modules:  # already paid for: nothing to save
        return __import__(name)
    sys.modules["sklearn"] = None  # type: ignore[assignment]
    try:
        return __import__(name)
    finally:
        if sys.modules.get("sklearn") is None:
            del sys.modules["sklearn"]


def import_xgboost() -> ModuleType:
    mod: ModuleType = _without_sklearn("xgboost")
    return mod


def import_lightgbm() -> ModuleType:
    mod: ModuleType = _without_sklearn("lightgbm")
    return mod
