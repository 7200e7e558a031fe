"""The mlrt inference server: Snowflake service-function format over HTTP, with admission control.

One instance is ``python -m mlrt_iac.runtime.serving --model-uri DIR --host H --port P --workers N
--max-queue Q [--max-batch-rows R] [--batch-rows B] [--max-request-rows N] [--functions predict,predict_proba] [--instance-id I]
[--ready-file F] [--max-body-bytes B] [--max-header-bytes H] [--request-timeout S]
[--max-buffered-bytes M] [--keep-alive-timeout K] [--drain-timeout D]
[--model-class module:Name [--project-dir D]]``: a supervisor that binds H:P with SO_REUSEPORT (so several instances share one
URL) and N worker processes, each loading the model once. Exit codes: 0 after SIGTERM/SIGINT (in-flight
requests finish, no process is left), 1 when the model cannot be served or workers keep crashing,
2 for invalid options.

HTTP: ``POST /<function>`` with ``{"data": [[row_index, col1, ...], ...]}`` answers
``{"data": [[row_index, result], ...]}`` (``predict``: the framework's native prediction, exactly
``Booster.predict``; ``predict_proba``: one probability per class, for classifiers). JSON ``null``
is a missing value. ``--model-class`` names the project's class or loader function that makes the
model: a PyTorch state dict's ``torch.nn.Module``, or a custom model whose methods named in
``--functions`` take typed rows (numbers, strings, booleans, nulls per column) and answer any JSON
value per row (``model.py``, ``custom.py``). Errors are JSON ``{"error", "code", "row", "row_index", "column"}`` and quote at
most 200 characters of any value: 400 malformed body (nesting deeper than the format's rows of
values included), 404 unknown function, 405 wrong method, 408 when a request's head and body have
not arrived within ``--request-timeout`` (10 s) of its first byte (the connection then closes),
413 body over ``--max-body-bytes`` (64 MiB) or more rows than ``--max-request-rows`` (100,000), 431
request line + headers over ``--max-header-bytes`` (16 KiB), 503 + ``Retry-After: 1`` when
``max_queue`` requests already wait or the worker already holds ``--max-buffered-bytes`` (256 MiB)
of request bodies. A request takes a waiting slot only once its whole body has arrived, so slow
clients hold no slot; an answer sent before a body has all arrived (413, 503) is followed by reading
the rest (up to the request's deadline) rather than a close that would reset the connection.
An idle keep-alive connection closes after ``--keep-alive-timeout`` (75 s, above the usual client
and load-balancer idle timeouts, so that they close first), never while a request waits unread.
On SIGTERM (a rolling update's old instance) a worker stops accepting and drains for up to
``--drain-timeout`` (5 s): every answer then carries ``Connection: close``, and an idle keep-alive
connection stays open so that the client's next request on it is answered rather than reset.
Requests that reach a worker while it is busy are answered together: merged into one prediction
call of at most ``--batch-rows`` rows (4,096; 0: each request on its own) and split back, each answer
exactly its own rows in its own order (``batch.py``). No model call gets more than ``--max-batch-rows``
rows (the service's ``max_batch_rows``; default no limit): a larger request is cut into calls of that
many rows, predicted one after another and answered in one response, its rows in their order.
``GET /health`` is 200 ``{"status": "ok", "model", "instance", ...}`` once every worker has loaded
the model; ``GET /metrics`` is Prometheus text (requests by function and code, latency histogram,
queue depth, rejections), for the instance that answers.
"""

from mlrt_iac.runtime.serving.config import ServeConfig
from mlrt_iac.runtime.serving.errors import ModelLoadError, RequestError
from mlrt_iac.runtime.serving.instance import run_instance
from mlrt_iac.runtime.serving.model import KNOWN_FUNCTIONS, LoadedModel, load_model
from mlrt_iac.runtime.serving.parsing import encode_response, parse_request

__all__ = [
    "KNOWN_FUNCTIONS",
    "LoadedModel",
    "ModelLoadError",
    "RequestError",
    "ServeConfig",
    "encode_response",
    "load_model",
    "parse_request",
    "run_instance",
]
