"""`training` on the ray provider: a Ray Job running Ray Train through `mlrt_iac.runtime.ray_entry`.

A run (`run_version`: create, and every retrain) submits the job (`JobSubmissionClient.submit_job`,
the job id is the `run_id`) with a `runtime_env` carrying mlrt's runtime (`py_modules`), the
project as `working_dir` (without `.mlrt/` and dataset files), the `pip_requirements` (`pip`),
the job spec and the effective egress list (`MLRT_EGRESS`) as environment variables, or, for a
training that names an `image`, that image (`image_uri`; it must contain mlrt's runtime, the
framework and the project's code; see `runtime_env.py`); the entrypoint runs the cluster's own
Python. It then follows the job's log,
turning the runtime's event and marker lines into progress and log lines, and returns when the
job ends. A failed job's error carries the tail of its log. Ctrl-C stops the job.

Planning is the kit's (`providers.kit.training.TrainingPlanning`, as for the local provider):
the same input fingerprint decides re-training, and a retrain is an update that writes a new
model version (a new job; `read` and `delete` follow the current version's `run_id`). The model
is written where the local provider writes it (`.mlrt/models/<training>/<run_id>`, or
`artifact_location`), which the cluster's workers must be able to write: true for a cluster on this machine; for a
remote cluster set `artifact_location` to storage both sides share.

A cluster whose job agent is not up yet makes `create` raise RetryableError (the engine retries);
a job still running at the create deadline (`timeouts { create }`) is stopped and the create
fails with DeadlineExceeded. A create that fails for any reason stops and deletes its job.
The cluster used is kept in `private` (`ray_address`, `managed`, `serve_port`), with the
fingerprint parts.

`read` returns None (drift) when the job is gone from the cluster (deleted), ended STOPPED or
FAILED, or its model directory is missing. `delete` stops and deletes the job, removes the model versions no service uses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError, RetryableError
from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    LogLine,
    LogQuery,
    ProviderContext,
    ReadRequest,
    ReadResult,
)
from providers.kit.handler import public
from providers.kit.names import file_safe_name
from providers.kit.records import atomic_write_json
from providers.kit.training import (
    TrainingPlanning,
    describe_progress,
    fingerprint,
    gpu_problems,
    job_spec,
    model_root,
    new_run_id,
)
from providers.kit.waiting import exceeded, seconds_left

from .client import Dashboard
from .common import RayHandler, Target, by_cluster
from .compute_pool import suspend_history
from .logs import job_logs
from .runtime_env import entrypoint, workload_env

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
POLL = 0.5
STOP_WAIT_SECS = 30.0
MARKER = "@@mlrt-event@@ "
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _data_excludes(project_dir: Path, spec: dict[str, Any]) -> list[str]:
    """Dataset files inside the project stay out of the uploaded working_dir: the job reads them
    by absolute path (the spec's sources), so packing them into every submission is wasted work."""
    out: list[str] = []
    root = str(project_dir.resolve()) + os.sep
    for ds in (spec.get("datasets") or {}).values():
        for src in ds.get("sources") or []:
            if isinstance(src, str) and src.startswith(root):
                out.append("/" + src[len(root) :])
    return out


class TrainingHandler(RayHandler, TrainingPlanning):
    type_name: ClassVar[str] = "training"
    # pip_requirements go into the job's runtime_env `pip`: the cluster fetches them, through
    # the training's external_access_integrations (checked at plan).
    installs_requirements: ClassVar[bool] = True

    def runs_here(self) -> bool:
        return not self.rp.attached

    def validate(self, desired: Attributes) -> Diagnostics:
        """A cluster mlrt starts here has this machine's GPUs (an attached one has its own). An
        `image` runs as it is (Ray's `image_uri` takes no `pip`), so it excludes pip_requirements."""
        diags = Diagnostics() if self.rp.attached else gpu_problems(desired, self.rp.machine().gpus)
        if desired.get("image") and desired.get("pip_requirements"):
            diags.add_error(
                "pip_requirements cannot be combined with image on the ray provider",
                "Ray runs a job with image_uri in that image as it is (its runtime_env takes no pip "
                "there): install the packages into the image, or drop image to have them "
                "installed through the job's runtime_env.",
            )
        return diags

    def _runtime_env(self, ctx: ProviderContext, spec: dict[str, Any], desired: Attributes) -> dict[str, Any]:
        """mlrt's runtime, the project and the workload's pip requirements, or its `image`
        (`runtime_env.workload_env`); the job spec and egress list as environment variables."""
        image = desired.get("image") or None
        env_vars = {
            "MLRT_RAY_SPEC": json.dumps(spec),
            "MLRT_EGRESS": ",".join(spec.get("egress") or []),
            "RAY_DEDUP_LOGS": "0",
            "PYTHONUNBUFFERED": "1",
        }
        if not image:  # the job's working_dir is the shipped project
            env_vars["MLRT_RAY_PROJECT_FROM_CWD"] = "1"
        return workload_env(
            data_dir=ctx.data_dir,
            project_dir=ctx.project_dir,
            provider_env=self.rp.runtime_env,
            env_vars=env_vars,
            pip_requirements=list(desired.get("pip_requirements") or []),
            image=image,
            excludes=_data_excludes(ctx.project_dir, spec),
        )

    def run_version(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        scaling = desired.get("scaling")
        num_nodes = scaling.get("num_nodes") if isinstance(scaling, dict) else None
        done = self.claim_pool(ctx, num_nodes if isinstance(num_nodes, int) else None)
        try:
            return self._run_version(ctx, desired)
        finally:
            done()

    def _run_version(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        target = self.target(ctx)
        dash = target.dashboard
        dash.check()
        name = file_safe_name(ctx, desired)
        run_id = new_run_id(name)
        run_dir = ctx.data_dir / "runs" / run_id
        model_dir = model_root(ctx, desired) / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        got = fingerprint(ctx, desired)
        fp, parts = got if got is not None else ("", {})
        spec = job_spec(ctx, desired, run_id, model_dir, run_dir, fp)
        atomic_write_json(run_dir / "spec.json", spec)
        self._submit(ctx, target, run_id, spec, run_dir, desired)
        ctx.log(f"Ray job {run_id} submitted to {dash.url}")
        try:
            status, finished, tail = self._follow(ctx, dash, run_id)
            if status != "SUCCEEDED" or finished is None or finished.get("status") != "SUCCEEDED":
                why = (finished or {}).get("error") or f"the job ended {status}"
                raise PermanentError(
                    f"Training {ctx.address} failed (Ray job {run_id}, {status})",
                    f"{why}\nLast lines of the job's log:\n"
                    + "\n".join(tail)
                    + f"\nFull log: ray job logs {run_id} --address {dash.url}",
                )
        except BaseException:
            shutil.rmtree(model_dir, ignore_errors=True)
            self._discard_job(dash, run_id)
            raise
        attrs = {
            "run_id": run_id,
            "status": "SUCCEEDED",
            "metrics": finished.get("metrics") or {},
            "model_uri": finished.get("model_uri") or str(model_dir),
            "input_fingerprint": fp,
            "started_at": finished.get("started_at"),
            "finished_at": finished.get("finished_at"),
        }
        return CreateResult(run_id, attrs, {**target.private(), "fingerprint_parts": parts})

    def _discard_job(self, dash: Dashboard, run_id: str) -> None:
        """Stop a job that failed to finish (a timed-out or failed create leaves no job running);
        its record stays on the cluster for `ray job logs`."""
        try:
            info = dash.job_info(run_id)
            if info is not None and info.get("status") not in TERMINAL:
                dash.stop_job(run_id)
        except Exception:  # keep the original error: the cluster may be what failed
            pass

    def _submit(
        self,
        ctx: ProviderContext,
        target: Target,
        run_id: str,
        spec: dict[str, Any],
        run_dir: Path,
        desired: Attributes,
    ) -> None:
        """Submit the job. A cluster that has just started has no job agent yet: that is a
        RetryableError (the engine retries the create; nothing was submitted). The entrypoint
        runs the cluster's own Python, not whatever `python` is on its PATH (`runtime_env.py`)."""
        dash = target.dashboard
        renv = self._runtime_env(ctx, spec, desired)
        client = dash.jobs()
        try:
            client.submit_job(
                entrypoint=entrypoint(target.managed, "env:MLRT_RAY_SPEC"),
                submission_id=run_id,
                runtime_env=renv,
                metadata={"mlrt_address": ctx.address},
                entrypoint_num_cpus=0,
            )
        except Exception as exc:
            shutil.rmtree(run_dir, ignore_errors=True)
            # Ray's SDK says so only in words (a RuntimeError "... try again ...").
            if "try again" in str(exc):
                ctx.progress("waiting for the cluster's job agent")
                raise RetryableError(
                    f"The job agent of the Ray cluster at {dash.url} is not ready", str(exc), delay=1.0
                ) from exc
            raise PermanentError(
                f"Submitting the Ray job of {ctx.address} to {dash.url} failed",
                f"{type(exc).__name__}: {exc}",
            ) from exc

    def _follow(
        self, ctx: ProviderContext, dash: Dashboard, run_id: str
    ) -> tuple[str, dict[str, Any] | None, list[str]]:
        """Stream the job's log until it ends: (status, the finished event, the log's tail)."""
        seen = 0
        partial = ""
        finished: dict[str, Any] | None = None
        tail: deque[str] = deque(maxlen=40)
        status = "PENDING"
        stopping = False
        while True:
            info = dash.job_info(run_id) or {}
            status = str(info.get("status") or status)
            logs = dash.job_logs(run_id)
            if len(logs) < seen:  # the log was rotated or re-read from the start
                seen = 0
            chunk, seen = logs[seen:], len(logs)
            lines = (partial + chunk).split("\n")
            partial = lines.pop() if status not in TERMINAL else ""
            for line in lines + ([partial] if status in TERMINAL and partial else []):
                event = self._line(ctx, line, tail)
                if event is not None:
                    finished = event
            if status in TERMINAL:
                if status != "SUCCEEDED" and info.get("message"):
                    tail.append(str(info["message"]))
                return status, finished, list(tail)
            if ctx.cancel.is_set() and not stopping:
                ctx.log(f"stopping Ray job {run_id}")
                dash.stop_job(run_id)
                stopping = True
            if ctx.remaining(POLL) <= 0:
                ctx.log(f"stopping Ray job {run_id}: the create deadline has passed")
                raise exceeded(ctx, f"Ray job {run_id}", "The job was stopped before it finished.")
            time.sleep(POLL)

    def _line(self, ctx: ProviderContext, line: str, tail: deque[str]) -> dict[str, Any] | None:
        text = _ANSI.sub("", line.rstrip("\r"))
        if not text.strip():
            return None
        if MARKER in text:
            try:
                payload = json.loads(text.split(MARKER, 1)[1])
            except ValueError:
                payload = None
            if isinstance(payload, dict) and payload.get("kind") == "progress":
                ctx.progress(describe_progress(payload))
            return None
        stripped = text.strip()
        if stripped.startswith("{") and '"event"' in stripped:
            try:
                event = json.loads(stripped)
            except ValueError:
                event = None
            if isinstance(event, dict):
                if event.get("event") == "finished":
                    return event
                return None
        tail.append(text)
        ctx.log(text)
        return None

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        uri = prior.get("model_uri")
        if not uri or not (Path(uri) / "metadata.json").exists():
            return ReadResult(None)
        target = self.target(ctx, ctx.private)
        # A suspend of its pool stops the head and the job history with it; the model stays.
        suspended, resumed = (
            suspend_history(ctx.data_dir, target.dashboard.url) if target.managed else (False, False)
        )
        if suspended:
            return ReadResult(public(prior))
        if target.managed and not target.dashboard.reachable():
            return ReadResult(None)  # its managed cluster is gone, and its job with it
        # The job of the current version (a retrain runs a new job; the id is the first run's).
        info = target.dashboard.job_info(str(prior.get("run_id") or id))
        if info is None and resumed:
            return ReadResult(public(prior))
        if info is None or info.get("status") in ("STOPPED", "FAILED"):
            return ReadResult(None)
        return ReadResult(public(prior))

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """`read` for many runs with one job listing per cluster (not one GET per run)."""
        results: list[ReadResult | Exception | None] = [None] * len(requests)
        for i, req in enumerate(requests):
            uri = req.prior.get("model_uri")
            if not uri or not (Path(uri) / "metadata.json").exists():
                results[i] = ReadResult(None)
        for target, indexes in by_cluster(self, requests, results).values():
            suspended, resumed = (
                suspend_history(requests[indexes[0]].ctx.data_dir, target.dashboard.url)
                if target.managed
                else (False, False)
            )
            if suspended:  # the head is stopped, the models stay (see `read`)
                for i in indexes:
                    results[i] = ReadResult(public(requests[i].prior))
                continue
            try:
                if target.managed and not target.dashboard.reachable():
                    jobs = None  # its managed cluster is gone, and its jobs with it
                else:
                    jobs = target.dashboard.list_jobs()
            except Exception as exc:
                for i in indexes:
                    results[i] = exc
                continue
            for i in indexes:
                job = str(requests[i].prior.get("run_id") or requests[i].id)
                info = None if jobs is None else jobs.get(job)
                if info is None and jobs is not None and resumed:
                    results[i] = ReadResult(public(requests[i].prior))
                    continue
                gone = info is None or info.get("status") in ("STOPPED", "FAILED")
                results[i] = ReadResult(None if gone else public(requests[i].prior))
        return BatchReadResult([r if r is not None else ReadResult(None) for r in results])

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        target = self.target(ctx, ctx.private)
        dash = target.dashboard
        id = str(prior.get("run_id") or id)  # the current version's job
        if dash.reachable():
            info = dash.job_info(id)
            if info is not None:
                if info.get("status") not in TERMINAL:
                    dash.stop_job(id)
                    deadline = time.monotonic() + seconds_left(ctx, STOP_WAIT_SECS)
                    while (
                        time.monotonic() < deadline
                        and (dash.job_info(id) or {}).get("status") not in TERMINAL
                    ):
                        time.sleep(POLL)
                dash.delete_job(id)
        elif not target.managed:
            ctx.log(f"{ctx.address}: the cluster at {dash.url} does not answer; its job record stays there")
        self.remove_versions(ctx, prior)

    def logs(
        self, ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
    ) -> Iterator[LogLine]:
        """`mlrt logs`: the latest run's job log (see providers/ray/logs.py)."""
        return job_logs(
            ctx, self.target(ctx, ctx.private).dashboard, str(attributes.get("run_id") or id), query
        )


__all__ = ["TrainingHandler", "Target"]
