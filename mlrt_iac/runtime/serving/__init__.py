"""The mlrt inference server: Snowflake service-function format over HTTP, with admission control.

Run one instance with ``python -m mlrt_iac.runtime.serving --model-uri DIR --port PORT ...``; see
``__main__`` for the flags. Several instances may share a port (SO_REUSEPORT).
"""

from mlrt_iac.runtime.serving.config import ServeConfig
from mlrt_iac.runtime.serving.errors import ModelLoadError, RequestError
from mlrt_iac.runtime.serving.instance import run_instance
from mlrt_iac.runtime.serving.model import KNOWN_FUNCTIONS, LoadedModel, load_model
from mlrt_iac.runtime.serving.parsing import encode_response, parse_request

__all__ = [
    "KNOWN_FUNCTIONS", "LoadedModel", "ModelLoadError", "RequestError", "ServeConfig",
    "encode_response", "load_model", "parse_request", "run_instance",
]
