"""`training` on the local provider: a supervised subprocess group running the ML runtime.

`create` writes a job spec, runs `python -m mlrt_iac.runtime.launch SPEC` and streams its JSON
events to the terminal; it returns only when the run has finished (a training *is* its run).
Re-training is a plan decision: `diff` recomputes the input fingerprint (file sizes, mtimes,
parquet footers, entrypoint source, params — never a full read) and asks for a replacement when
it moved, saying which part changed. Failure contract: a failed run leaves no model behind (the
run's logs stay under `.mlrt/runs/<run_id>/` for inspection).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, CreateResult, DiffResult, ProviderContext, ReadResult, UpdateResult
from mlrt_iac.values import is_known

from ._files import atomic_write_json
from .common import LocalHandler, resource_name

COMPUTED = ("run_id", "status", "metrics", "model_uri", "input_fingerprint", "started_at", "finished_at")
# Arguments that can change without re-running the training.
IN_PLACE = ("comment", "retrain_on")


def _abs_sources(project_dir: Path, sources: list[str]) -> list[str]:
    out = []
    for s in sources:
        if "://" in s or os.path.isabs(s):
            out.append(s)
        else:
            out.append(str((project_dir / s).resolve()))
    return out


class TrainingHandler(LocalHandler):
    type_name: ClassVar[str] = "training"
    computed: ClassVar[tuple[str, ...]] = COMPUTED

    # -- plan -----------------------------------------------------------------------------
    def validate(self, desired: Attributes) -> Diagnostics:
        """GPUs asked of this machine must exist here (the model checks the pool's family)."""
        diags = Diagnostics()
        scaling = desired.get("scaling") or {}
        if not is_known(scaling):
            return diags
        wants_gpu = bool(scaling.get("use_gpu")) or float(scaling.get("num_gpus_per_worker") or 0) > 0
        if wants_gpu and self.lp.machine().gpus == 0:
            diags.add_error(
                "No GPU on this machine",
                "The training asks for GPUs (scaling.use_gpu or num_gpus_per_worker), but the local "
                "provider found none (nvidia-smi lists no GPU). Set use_gpu = false to train on "
                "CPUs, or run it with a provider that has GPUs (ray, kubernetes).",
            )
        return diags

    def _fingerprint(self, ctx: ProviderContext, desired: Attributes) -> tuple[str, dict[str, str]] | None:
        from mlrt_iac.runtime import input_fingerprint
        from mlrt_iac.runtime.fingerprint import entrypoint_source_paths

        if not is_known(desired.get("dataset")) or not is_known(desired.get("params")):
            return None
        datasets = {
            name: {**ds, "sources": _abs_sources(ctx.project_dir, list(ds.get("source") or []))}
            for name, ds in (desired.get("dataset") or {}).items()
        }
        params = {
            k: desired.get(k)
            for k in (
                "framework",
                "params",
                "num_boost_round",
                "n_estimators",
                "entrypoint",
                "hyper_params",
                "scaling",
            )
        }
        try:
            fp, parts = input_fingerprint(
                datasets, entrypoint_source_paths(desired.get("entrypoint"), str(ctx.project_dir)), params
            )
        except (OSError, ValueError) as exc:
            raise PermanentError(f"Cannot read the training data of {ctx.address}", str(exc)) from exc
        # Show paths relative to the project, as the user wrote them.
        rel = {k.replace(str(ctx.project_dir) + os.sep, ""): v for k, v in parts.items()}
        return fp, rel

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        got = self._fingerprint(ctx, desired)
        if got is None or prior is not None:
            return {}
        return {"input_fingerprint": got[0]}

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        changed = [k for k, v in desired.items() if k not in COMPUTED and prior.get(k) != v]
        replace = [k for k in changed if k not in IN_PLACE]
        reasons: dict[str, str] = {}
        if desired.get("retrain_on", "inputs") == "inputs":
            got = self._fingerprint(ctx, desired)
            if got is not None and got[0] != prior.get("input_fingerprint"):
                from mlrt_iac.runtime import explain_change

                changed.append("input_fingerprint")
                replace.append("input_fingerprint")
                reasons["input_fingerprint"] = explain_change(prior.get("_fingerprint_parts") or {}, got[1])
        return DiffResult(
            changed=sorted(set(changed)), requires_replace=sorted(set(replace)), reasons=reasons
        )

    # -- apply ----------------------------------------------------------------------------
    def _spec(
        self,
        ctx: ProviderContext,
        desired: Attributes,
        run_id: str,
        model_dir: Path,
        run_dir: Path,
        fingerprint: str,
    ) -> dict[str, Any]:
        egress: list[str] = []
        for attrs in ctx.related.values():
            egress.extend(attrs.get("effective_egress") or [])
        datasets = {
            name: {
                "sources": _abs_sources(ctx.project_dir, list(ds.get("source") or [])),
                "input_cols": ds.get("input_cols"),
                "label_col": ds.get("label_col"),
                "shard": bool(ds.get("shard", True)),
            }
            for name, ds in (desired.get("dataset") or {}).items()
        }
        return {
            "run_id": run_id,
            "framework": desired["framework"],
            "datasets": datasets,
            "params": desired.get("params") or {},
            "num_boost_round": desired.get("num_boost_round"),
            "n_estimators": desired.get("n_estimators"),
            "entrypoint": desired.get("entrypoint"),
            "hyper_params": desired.get("hyper_params") or {},
            "scaling": desired.get("scaling") or {},
            "model_dir": str(model_dir),
            "run_dir": str(run_dir),
            "project_dir": str(ctx.project_dir),
            "egress": sorted(set(egress)),
            "input_fingerprint": fingerprint,
            "early_stopping_rounds": (desired.get("params") or {}).get("early_stopping_rounds"),
        }

    def _model_root(self, ctx: ProviderContext, desired: Attributes) -> Path:
        loc = desired.get("artifact_location")
        if loc:
            p = Path(loc)
            return p if p.is_absolute() else ctx.project_dir / p
        return ctx.data_dir / "models"

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        name = resource_name(ctx, desired)
        self._stop_leftover_runs(ctx, name)
        run_id = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        run_dir = ctx.data_dir / "runs" / run_id
        model_dir = self._model_root(ctx, desired) / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        got = self._fingerprint(ctx, desired)
        fp, parts = got if got is not None else ("", {})
        spec_path = run_dir / "spec.json"
        atomic_write_json(spec_path, self._spec(ctx, desired, run_id, model_dir, run_dir, fp))
        result = self._run(ctx, spec_path, run_dir)
        if result.get("status") != "SUCCEEDED":
            shutil.rmtree(model_dir, ignore_errors=True)
            raise PermanentError(
                f"Training {ctx.address} failed (run {run_id})",
                (result.get("error") or "the run reported no error") + f"\nLogs: {run_dir}",
            )
        attrs = {
            "run_id": run_id,
            "status": "SUCCEEDED",
            "metrics": result.get("metrics") or {},
            "model_uri": result.get("model_uri") or str(model_dir),
            "input_fingerprint": fp,
            "_fingerprint_parts": parts,
            "started_at": result.get("started_at"),
            "finished_at": result.get("finished_at"),
        }
        return CreateResult(run_id, attrs)

    def _stop_leftover_runs(self, ctx: ProviderContext, name: str) -> None:
        """A run whose mlrt was killed keeps training in its own session; stop it before starting
        another, so one training never has two runs writing models at once."""
        for pid_file in (ctx.data_dir / "runs").glob(f"{name}-*/launcher.pid"):
            try:
                pid = int(pid_file.read_text())
                os.killpg(pid, signal.SIGTERM)
                ctx.log(f"stopped run {pid_file.parent.name} left by an interrupted apply (pid {pid})")
            except (ValueError, OSError):
                pass
            pid_file.unlink(missing_ok=True)

    def _run(self, ctx: ProviderContext, spec_path: Path, run_dir: Path) -> dict[str, Any]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlrt_iac.runtime.launch", str(spec_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            cwd=str(ctx.project_dir),
            env=env,
            start_new_session=True,
        )
        pid_file = run_dir / "launcher.pid"
        pid_file.write_text(str(proc.pid))
        tail: deque[str] = deque(maxlen=30)
        finished: dict[str, Any] | None = None
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                event = _parse_event(line)
                if event is None:
                    tail.append(line)
                    if line.strip():
                        ctx.log(line)
                    continue
                kind = event.get("event")
                if kind == "progress":
                    ctx.progress(_describe_progress(event))
                elif kind == "log":
                    tail.append(str(event.get("line", "")))
                    ctx.log(f"[rank {event.get('rank', 0)}] {event.get('line', '')}")
                elif kind == "finished":
                    finished = event
                if ctx.cancel.is_set():
                    break
        finally:
            if ctx.cancel.is_set() and proc.poll() is None:
                _terminate(proc)
            rc = proc.wait()
            pid_file.unlink(missing_ok=True)
        if ctx.cancel.is_set():
            return {"status": "FAILED", "error": "cancelled by the user (Ctrl-C)"}
        if finished is None:
            result_file = run_dir / "result.json"
            if result_file.exists():
                finished = json.loads(result_file.read_text())
        if finished is None:
            return {
                "status": "FAILED",
                "error": f"the launcher exited with code {rc} without a result:\n" + "\n".join(tail),
            }
        return finished

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        uri = prior.get("model_uri")
        if not uri or not (Path(uri) / "metadata.json").exists():
            return ReadResult(None)
        return ReadResult(dict(prior))

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        return UpdateResult({**prior, **{k: desired.get(k) for k in IN_PLACE}})

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        uri = prior.get("model_uri")
        if uri and Path(uri).exists():
            shutil.rmtree(uri)


def _parse_event(line: str) -> dict[str, Any] | None:
    s = line.strip()
    if not s.startswith("{") or '"event"' not in s:
        return None
    try:
        obj = json.loads(s)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and "event" in obj else None


def _describe_progress(e: dict[str, Any]) -> str:
    step, total = e.get("step"), e.get("total")
    head = f"step {step}/{total}" if total else f"step {step}"
    metrics = " ".join(
        f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
        for k, v in (e.get("metrics") or {}).items()
    )
    return f"{head} {metrics} [{float(e.get('elapsed') or 0):.1f}s]".strip()


def _terminate(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
