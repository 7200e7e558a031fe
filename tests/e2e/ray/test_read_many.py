"""Ray `read_many` against a real local Ray cluster: one job listing and one Serve applications
GET per cluster give what `read` gives run by run and service by service."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from mlrt_iac.provider import BatchReader, ProviderContext, ReadRequest
from providers.ray import RayProvider


@pytest.mark.slow
def test_read_many_agrees_with_read(tmp_path: Path, dashboard: str) -> None:
    from ray.job_submission import JobStatus, JobSubmissionClient

    run_id = f"mlrt-read-many-{uuid.uuid4().hex[:8]}"
    client = JobSubmissionClient(dashboard)
    client.submit_job(entrypoint="python -c 'print(1)'", submission_id=run_id)
    deadline = time.monotonic() + 120
    while client.get_job_status(run_id) not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        assert time.monotonic() < deadline, "the trivial job did not finish"
        time.sleep(0.5)
    assert client.get_job_status(run_id) == JobStatus.SUCCEEDED

    model = tmp_path / "model"
    model.mkdir()
    (model / "metadata.json").write_text(json.dumps({"framework": "xgboost"}))
    ctx = ProviderContext(tmp_path, tmp_path / ".mlrt")
    provider = RayProvider()
    assert not provider.configure({}, ctx).has_errors
    private = {"ray_address": dashboard, "managed": False, "serve_port": None}

    def request(address: str, id: str, prior: dict[str, object]) -> ReadRequest:
        return ReadRequest(ctx.for_resource(address, private=private), id, prior)

    training = provider.handler("training")
    assert isinstance(training, BatchReader) and training is not None
    runs = [
        request("training.done", run_id, {"model_uri": str(model), "run_id": run_id}),
        request("training.unknown", "no-such-job", {"model_uri": str(model)}),
        request("training.no_model", run_id, {"model_uri": str(tmp_path / "gone")}),
    ]
    many = [r if isinstance(r, Exception) else r.attributes for r in training.read_many(ctx, runs).results]
    assert many == [training.read(r.ctx, r.id, r.prior).attributes for r in runs]
    assert many == [runs[0].prior, None, None]

    service = provider.handler("service")
    assert isinstance(service, BatchReader) and service is not None
    services = [
        request("service.paused", "paused", {"name": "paused", "suspended": True}),
        request("service.absent", "absent", {"name": "absent", "suspended": False}),
    ]
    many = [r if isinstance(r, Exception) else r.attributes for r in service.read_many(ctx, services).results]
    assert many == [service.read(r.ctx, r.id, r.prior).attributes for r in services]
    assert many == [services[0].prior, None]
    client.delete_job(run_id)
