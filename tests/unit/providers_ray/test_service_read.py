"""A Ray service whose Serve application failed reads as FAILED with Serve's message (issue 12,
item 5), not as deleted; the plan restarts it in place. A real HTTP server on 127.0.0.1 answers
the Serve REST API's GET /api/serve/applications/ as a cluster would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.provider import ProviderContext, ReadRequest
from providers.ray import RayProvider
from providers.ray.service import DEPLOYMENT, ServiceHandler

TRACEBACK = "\n".join(
    [
        "Deploying app 'api' failed with exception:",
        "Traceback (most recent call last):",
        '  File "ray_entry.py", line 310, in __init__',
        "mlrt_iac.runtime.serving.errors.ModelLoadError: No model at /models/api: metadata.json is missing",
    ]
)

APPS: dict[str, Any] = {
    "applications": {
        "ok": {"status": "RUNNING", "message": "", "deployments": {}},
        "broken": {"status": "DEPLOY_FAILED", "message": TRACEBACK, "deployments": {}},
        "sick": {
            "status": "UNHEALTHY",
            "message": "",
            "deployments": {DEPLOYMENT: {"status": "UNHEALTHY", "message": "replica crashed: " + "x" * 400}},
        },
        "going": {"status": "DELETING", "message": "", "deployments": {}},
        "rolling": {"status": "DEPLOYING", "message": "", "deployments": {}},
    }
}


@pytest.fixture
def dashboard() -> Iterator[str]:
    class Serve(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(APPS if self.path == "/api/serve/applications/" else {}).encode()
            self.send_response(200 if self.path.startswith("/api/") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_failed_applications_read_failed_with_serves_message(tmp_path: Path, dashboard: str) -> None:
    handler = RayProvider().handler("service")
    assert isinstance(handler, ServiceHandler)
    ctx = ProviderContext(tmp_path, tmp_path / ".mlrt")
    private = {"ray_address": dashboard, "managed": False, "serve_port": 8000}
    names = ["ok", "broken", "sick", "going", "rolling", "never"]
    prior = {"endpoint": "http://127.0.0.1:8000/x", "status": "READY", "suspended": False}
    requests = [
        ReadRequest(ctx.for_resource(f"service.{n}", private=private), n, {**prior, "name": n}) for n in names
    ]
    one = [handler.read(r.ctx, r.id, r.prior).attributes for r in requests]
    many = [r if isinstance(r, Exception) else r.attributes for r in handler.read_many(ctx, requests).results]
    assert many == one
    ok, broken, sick, going, rolling, never = one
    assert ok == {**prior, "name": "ok", "status": "READY", "status_message": None}
    assert broken is not None and broken["status"] == "FAILED"
    assert broken["status_message"] == "Ray Serve reports the application DEPLOY_FAILED:\n" + "\n".join(
        TRACEBACK.splitlines()[-4:]
    )
    assert sick is not None and sick["status"] == "FAILED"
    assert sick["status_message"].startswith(
        "Ray Serve reports the application UNHEALTHY:\nreplica crashed: xxx"
    )
    assert sick["status_message"].endswith("...") and len(sick["status_message"].splitlines()[1]) == 300
    assert going is None and never is None  # gone: the plan creates them
    assert rolling == {**prior, "name": "rolling"}  # deploying: as it was

    diff = handler.diff(requests[1].ctx, broken, {"name": "broken", "suspended": False})
    assert diff.changed == ["status"] and not diff.requires_replace
    assert diff.reasons["status"] == (
        "restarts the failed service (mlrt_iac.runtime.serving.errors.ModelLoadError: No model at "
        "/models/api: metadata.json is missing)"
    )
