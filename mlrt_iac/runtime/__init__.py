"""mlrt's ML runtime: what runs inside trainings and services.

Imports nothing of the engine (it runs inside workloads where only it and the ML libraries
are installed) and loads heavy libraries lazily, so ``import mlrt_iac.runtime`` is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlrt_iac.runtime.artifact import save_torch_model
    from mlrt_iac.runtime.context import TrainingContext, get_context
    from mlrt_iac.runtime.data_connector import DataConnector, ShardedDataConnector
    from mlrt_iac.runtime.fingerprint import explain_change, input_fingerprint

_EXPORTS = {
    "DataConnector": "mlrt_iac.runtime.data_connector",
    "ShardedDataConnector": "mlrt_iac.runtime.data_connector",
    "get_context": "mlrt_iac.runtime.context",
    "TrainingContext": "mlrt_iac.runtime.context",
    "save_torch_model": "mlrt_iac.runtime.artifact",
    "input_fingerprint": "mlrt_iac.runtime.fingerprint",
    "explain_change": "mlrt_iac.runtime.fingerprint",
}

__all__ = [
    "DataConnector",
    "ShardedDataConnector",
    "TrainingContext",
    "explain_change",
    "get_context",
    "input_fingerprint",
    "save_torch_model",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mlrt_iac.runtime' has no attribute {name!r}")
