"""What local and ray trainings share: the input fingerprint that decides re-training, the diff
built on it, the job spec the runtime reads, run ids and progress lines, and model versions.

A training's fingerprint parts (which file, which parameter moved) are provider bookkeeping:
they travel in `private["fingerprint_parts"]` so the plan can say *why* it re-trains.

A retrain is an in-place update that writes a new model version (`providers.kit.models`): the
new version exists before anything is removed, dependent services roll to its `model_uri`, and a
run that fails leaves the state (and the services) on the previous version, so the next plan
still shows the retrain. Only a change of `name` or `artifact_location` (where the versions live)
is a replacement.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.model import computed_attributes
from mlrt_iac.provider import Attributes, CreateResult, DiffResult, Finding, ProviderContext, UpdateResult
from mlrt_iac.values import UNKNOWN, is_known

from . import models
from .handler import KitHandler, public
from .names import file_safe_name

TRAINING_COMPUTED: tuple[str, ...] = computed_attributes("training")  # the schema's, not a copy
# Arguments that can change without re-running the training.
IN_PLACE: tuple[str, ...] = ("comment", "retrain_on", "keep_versions")
# Arguments that say where the versions live: changing them replaces the training.
REPLACE: tuple[str, ...] = ("name", "artifact_location")
# Computed attributes a new run sets (the others: input_fingerprint, known at plan time).
RUN_COMPUTED: tuple[str, ...] = tuple(c for c in TRAINING_COMPUTED if c != "input_fingerprint")
# Arguments that feed the fingerprint besides the datasets and the entrypoint's source.
FINGERPRINT_ARGS: tuple[str, ...] = (
    "framework",
    "params",
    "num_boost_round",
    "n_estimators",
    "entrypoint",
    "hyper_params",
    "scaling",
)


def abs_sources(project_dir: Path, sources: list[str]) -> list[str]:
    """Dataset sources with paths made absolute (URLs and absolute paths kept)."""
    return [s if "://" in s or os.path.isabs(s) else str((project_dir / s).resolve()) for s in sources]


def fingerprint(ctx: ProviderContext, desired: Attributes) -> tuple[str, dict[str, str]] | None:
    """(fingerprint, parts shown relative to the project) of a training's inputs; None while
    datasets or params are unknown. Data files count by content: each is read once, then found
    by its stat in `.mlrt/cache/` (authenticated with the user's cache key), so a touch or a fresh
    clone plans no re-training."""
    from mlrt_iac.config.cache import load_secret
    from mlrt_iac.runtime import input_fingerprint
    from mlrt_iac.runtime.content_hashes import FileHashCache
    from mlrt_iac.runtime.fingerprint import entrypoint_source_paths

    if not is_known(desired.get("dataset")) or not is_known(desired.get("params")):
        return None
    datasets = {
        name: {**ds, "sources": abs_sources(ctx.project_dir, list(ds.get("source") or []))}
        for name, ds in (desired.get("dataset") or {}).items()
    }
    params = {k: desired.get(k) for k in FINGERPRINT_ARGS}
    try:
        cache = FileHashCache.in_dir(ctx.data_dir / "cache", load_secret(ctx.project_dir))
        fp, parts = input_fingerprint(
            datasets,
            entrypoint_source_paths(desired.get("entrypoint"), str(ctx.project_dir)),
            params,
            cache=cache,
        )
    except (OSError, ValueError) as exc:
        raise PermanentError(f"Cannot read the training data of {ctx.address}", str(exc)) from exc
    rel = {k.replace(str(ctx.project_dir) + os.sep, ""): v for k, v in parts.items()}
    return fp, rel


def egress(ctx: ProviderContext) -> list[str]:
    """The sorted egress list granted by the integrations the training references."""
    out: set[str] = set()
    for rel in ctx.related_of("external_access_integration"):
        out.update(rel.attributes.get("effective_egress") or [])
    return sorted(out)


def job_spec(
    ctx: ProviderContext,
    desired: Attributes,
    run_id: str,
    model_dir: Path,
    run_dir: Path,
    fingerprint_value: str,
) -> dict[str, Any]:
    """The spec `mlrt_iac.runtime` reads to run one training."""
    datasets = {
        name: {
            "sources": abs_sources(ctx.project_dir, list(ds.get("source") or [])),
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
        "egress": egress(ctx),
        "input_fingerprint": fingerprint_value,
        "early_stopping_rounds": (desired.get("params") or {}).get("early_stopping_rounds"),
    }


def model_root(ctx: ProviderContext, desired: Attributes) -> Path:
    """Where the training's versions are written: `artifact_location` (relative to the
    project), else .mlrt/models/<training name>/."""
    loc = desired.get("artifact_location")
    if loc:
        p = Path(loc)
        return p if p.is_absolute() else ctx.project_dir / p
    return ctx.data_dir / "models" / file_safe_name(ctx, desired)


def new_run_id(name: str) -> str:
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def gpu_problems(desired: Attributes, machine_gpus: int) -> Diagnostics:
    """A training that asks for GPUs on a machine that has none is a plan error."""
    diags = Diagnostics()
    scaling = desired.get("scaling") or {}
    if not is_known(scaling):
        return diags
    wants_gpu = bool(scaling.get("use_gpu")) or float(scaling.get("num_gpus_per_worker") or 0) > 0
    if wants_gpu and machine_gpus == 0:
        diags.add_error(
            "No GPU on this machine",
            "The training asks for GPUs (scaling.use_gpu or num_gpus_per_worker), but the "
            "provider found none (nvidia-smi lists no GPU). Set use_gpu = false to train on "
            "CPUs, or run it with a provider that has GPUs (ray, kubernetes).",
        )
    return diags


def parse_event(line: str) -> dict[str, Any] | None:
    """A runtime JSON event line ({"event": ...}), else None."""
    s = line.strip()
    if not s.startswith("{") or '"event"' not in s:
        return None
    try:
        obj = json.loads(s)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and "event" in obj else None


def describe_progress(e: dict[str, Any]) -> str:
    """A progress event as a short status: `step 3/10 loss=0.31 [4.2s]`."""
    step, total = e.get("step"), e.get("total")
    head = f"step {step}/{total}" if total else f"step {step}"
    metrics = " ".join(
        f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
        for k, v in (e.get("metrics") or {}).items()
    )
    return f"{head} {metrics} [{float(e.get('elapsed') or 0):.1f}s]".strip()


class TrainingPlanning(KitHandler):
    """Planning of trainings, the same on every provider that runs the mlrt runtime: the
    fingerprint is known at plan time; a moved fingerprint, or a changed argument other than
    `comment`, `retrain_on` and `keep_versions`, is a retrain: an update that runs the training
    again and writes a new model version (`run_version`); `name` and `artifact_location` force a
    replacement."""

    type_name: ClassVar[str] = "training"
    computed: ClassVar[tuple[str, ...]] = TRAINING_COMPUTED

    # Whether this provider installs `pip_requirements` for a run (Ray's runtime_env `pip`):
    # then they are fetched through the training's integrations; else they must be satisfied
    # in this Python environment already.
    installs_requirements: ClassVar[bool] = False

    def runs_here(self) -> bool:
        """Whether the training runs in this Python environment (so its framework must be
        installed here): true for local runs and Ray clusters mlrt starts on this machine."""
        return True

    def plan_checks(self, ctx: ProviderContext, desired: Attributes) -> list[Finding]:
        """What the files and this environment decide before anything runs: the framework is
        installed, pip_requirements parse (and are installed here, or reachable through the
        training's integrations), the datasets exist and have their columns, the entrypoint
        imports."""
        from .plan_checks import training_findings

        return training_findings(ctx, desired, self.runs_here(), self.installs_requirements)

    def run_version(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        """Run the training once and return its new version: the run id, every computed
        attribute but `versions`, and private data. All or nothing: a run that fails removes
        what it wrote and raises."""
        raise NotImplementedError

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        res = self.run_version(ctx, desired)
        res.attributes["versions"] = self._keep_versions(ctx, desired, res.attributes)
        return res

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        if not self.retrains(ctx, prior, desired):
            attrs = {**public(prior), **{k: desired.get(k) for k in IN_PLACE}}
            attrs["versions"] = self._keep_versions(ctx, desired, attrs)
            return UpdateResult(attrs)
        # The new version is written next to the old ones; nothing is removed before it exists.
        res = self.run_version(ctx, desired)
        res.attributes["versions"] = self._keep_versions(ctx, desired, res.attributes)
        return UpdateResult(res.attributes, {**ctx.private, **res.private})

    def _keep_versions(self, ctx: ProviderContext, desired: Attributes, attrs: Attributes) -> list[Any]:
        """Prune to the newest `keep_versions` (never the current one, never one a service
        uses) and list what is left."""
        root = model_root(ctx, desired)
        name = file_safe_name(ctx, desired)
        keep = int(desired.get("keep_versions") or 3)
        gone = models.prune(ctx.data_dir, root, name, keep, attrs.get("model_uri"), ctx.log)
        if gone:
            ctx.log(f"removed model version{'s' if len(gone) > 1 else ''} {', '.join(gone)}")
        return models.describe(root, name)

    def remove_versions(self, ctx: ProviderContext, prior: Attributes) -> None:
        """What `delete` does to the models: every version no service uses is removed."""
        models.remove_all(
            ctx.data_dir,
            model_root(ctx, prior),
            file_safe_name(ctx, prior),
            prior.get("model_uri"),
            own_root=not prior.get("artifact_location"),
            log=ctx.log,
        )

    def retrains(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> bool:
        """Whether going from `prior` to `desired` runs the training again."""
        dr = self.diff(ctx, prior, desired)
        return any(k not in IN_PLACE for k in dr.changed) and not dr.requires_replace

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        got = fingerprint(ctx, desired)
        if prior is not None:
            if not self.retrains(ctx, prior, desired):
                return {}
            # A retrain: the new version's attributes are known after apply, and with them
            # the model_uri that dependent services roll to.
            planned: Attributes = {c: UNKNOWN for c in RUN_COMPUTED}
            if got is not None:
                planned["input_fingerprint"] = got[0]
            return planned
        return {} if got is None else {"input_fingerprint": got[0]}

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        desired = self.normalise(ctx, desired)
        changed = [k for k, v in desired.items() if k not in TRAINING_COMPUTED and prior.get(k) != v]
        # A state written before keep_versions existed has no value for it: the default held.
        if (
            "keep_versions" in changed
            and prior.get("keep_versions") is None
            and desired.get("keep_versions") == 3
        ):
            changed.remove("keep_versions")
        replace = [k for k in changed if k in REPLACE]
        reasons: dict[str, str] = {k: f"{k} says where the model versions live" for k in replace}
        if desired.get("retrain_on", "inputs") == "inputs":
            got = fingerprint(ctx, desired)
            if got is not None and got[0] != prior.get("input_fingerprint"):
                from mlrt_iac.runtime import explain_change

                changed.append("input_fingerprint")
                reasons["input_fingerprint"] = "new model version: " + explain_change(
                    dict(ctx.private.get("fingerprint_parts") or {}), got[1]
                )
        return DiffResult(
            changed=sorted(set(changed)), requires_replace=sorted(set(replace)), reasons=reasons
        )
