"""Model versions of trainings (issue 12 item 1): naming, listing, pruning to keep_versions,
never a version a service uses, and a retrain planned as an update that writes a new version.
Real files and the real local handlers; the runs themselves are in tests/e2e/test_local_ml.py."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlrt_iac.provider import ProviderContext
from mlrt_iac.values import UNKNOWN
from providers.kit import models
from providers.kit.training import model_root, new_run_id
from providers.local import LocalProvider


def _version(root: Path, run_id: str, mtime: float, created: str = "2026-01-01T00:00:00Z") -> Path:
    d = root / run_id
    d.mkdir(parents=True)
    (d / "model.ubj").write_bytes(b"model")
    meta = d / "metadata.json"
    meta.write_text(json.dumps({"created_at": created}))
    os.utime(meta, (mtime, mtime))
    return d


@pytest.fixture
def root(ctx: ProviderContext) -> Path:
    return model_root(ctx.for_resource("training.churn"), {})


def test_versions_live_under_the_training_and_are_listed_oldest_first(
    ctx: ProviderContext, root: Path
) -> None:
    assert root == ctx.data_dir / "models" / "churn"
    assert (
        model_root(ctx.for_resource("training.churn"), {"artifact_location": "out"})
        == ctx.project_dir / "out"
    )
    run = new_run_id("churn")
    assert models.is_version_of("churn", run) and not models.is_version_of("churn-v2", run)
    newer = _version(root, "churn-20260102-000000-bbbbbb", 2_000)
    older = _version(root, "churn-20260101-000000-aaaaaa", 3_000)  # later mtime, earlier run
    same_second = _version(root, "churn-20260102-000000-000000", 2_500)
    _version(root, "churn-v2-20260103-000000-cccccc", 1_000)  # another training's version
    (root / "churn-20260104-000000-dddddd").mkdir()  # a run still writing: no metadata.json
    assert models.versions(root, "churn") == [older, newer, same_second]
    assert [v["id"] for v in models.describe(root, "churn")] == [older.name, newer.name, same_second.name]
    assert models.describe(root, "churn")[0] == {
        "id": older.name,
        "model_uri": str(older),
        "created_at": "2026-01-01T00:00:00Z",
    }


def test_prune_keeps_the_newest_and_every_version_a_service_uses(ctx: ProviderContext, root: Path) -> None:
    v = [_version(root, f"churn-2026010{i}-000000-aaaaaa", 1_000 + i) for i in range(1, 7)]
    models.record_use(ctx.data_dir, "local-api", [str(v[0])])  # a service still on the oldest
    models.record_use(ctx.data_dir, "ray-batch", [str(v[1]), None])
    logged: list[str] = []
    removed = models.prune(ctx.data_dir, root, "churn", 2, str(v[5]), logged.append)
    assert removed == [v[2].name, v[3].name]
    assert [p.name for p in models.versions(root, "churn")] == [v[0].name, v[1].name, v[4].name, v[5].name]
    assert any("served by local-api" in line for line in logged)
    # Once the services let go, the next prune removes them.
    models.release(ctx.data_dir, "local-api")
    models.record_use(ctx.data_dir, "ray-batch", [])
    assert models.prune(ctx.data_dir, root, "churn", 2, str(v[5])) == [v[0].name, v[1].name]


def test_prune_never_removes_the_current_version(ctx: ProviderContext, root: Path) -> None:
    v = [_version(root, f"churn-2026010{i}-000000-aaaaaa", 1_000 + i) for i in range(1, 4)]
    assert models.prune(ctx.data_dir, root, "churn", 1, str(v[0])) == [v[1].name]
    assert models.versions(root, "churn") == [v[0], v[2]]


def test_an_unreadable_use_record_prunes_nothing(ctx: ProviderContext, root: Path) -> None:
    v = [_version(root, f"churn-2026010{i}-000000-aaaaaa", 1_000 + i) for i in range(1, 4)]
    (ctx.data_dir / models.USERS_DIR).mkdir(parents=True, exist_ok=True)
    (ctx.data_dir / models.USERS_DIR / "local-broken.json").write_text("{not json")
    assert models.prune(ctx.data_dir, root, "churn", 1, str(v[2])) == []
    assert models.versions(root, "churn") == v


# -- the local training handler ----------------------------------------------------------------


def _data(project: Path) -> None:
    (project / "data").mkdir()
    pq.write_table(
        pa.table({"x": [1.0, 2.0, 3.0, 4.0], "label": [0, 1, 0, 1]}), project / "data" / "train.parquet"
    )


def _desired(**extra: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "name": "churn",
        "compute_pool": "cpu",
        "framework": "xgboost",
        "dataset": {
            "train": {
                "source": ["data/train.parquet"],
                "input_cols": None,
                "label_col": "label",
                "shard": True,
            }
        },
        "params": {"objective": "binary:logistic"},
        "num_boost_round": 3,
        "n_estimators": None,
        "entrypoint": None,
        "hyper_params": {},
        "scaling": {
            "num_nodes": 1,
            "num_workers_per_node": 1,
            "num_cpus_per_worker": 1,
            "num_gpus_per_worker": 0,
            "use_gpu": False,
        },
        "image": None,
        "external_access_integrations": [],
        "artifact_location": None,
        "retrain_on": "inputs",
        "keep_versions": 3,
        "comment": None,
    }
    attrs.update(extra)
    return attrs


def test_a_retrain_is_an_update_that_leaves_the_model_uri_to_apply(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider]
) -> None:
    _data(ctx.project_dir)
    handler: Any = make_provider().handler("training")
    c = ctx.for_resource("training.churn")
    fp = handler.plan_computed(c, _desired(), None)["input_fingerprint"]
    prior = {**_desired(), "input_fingerprint": fp, "model_uri": "/m/churn-1", "run_id": "churn-1"}
    assert not handler.diff(c, prior, _desired()).changed

    # New parameters: a new version, not a replacement; its model_uri is known after apply.
    changed = _desired(params={"objective": "binary:logistic", "max_depth": 2})
    dr = handler.diff(c, prior, changed)
    assert dr.changed == ["input_fingerprint", "params"] and dr.requires_replace == []
    assert dr.reasons["input_fingerprint"].startswith("new model version: ")
    planned = handler.plan_computed(c, changed, prior)
    assert planned["model_uri"] is UNKNOWN and planned["versions"] is UNKNOWN
    assert planned["input_fingerprint"] not in (fp, UNKNOWN)

    # New data (by content; a touch alone changes nothing): the same, and the reason names the file.
    c_parts = ctx.for_resource("training.churn", private={"fingerprint_parts": _parts(ctx)})
    data = ctx.project_dir / "data" / "train.parquet"
    os.utime(data, (data.stat().st_mtime + 5, data.stat().st_mtime + 5))
    assert not handler.diff(c_parts, prior, _desired()).changed
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0, 5.0], "label": [0, 1, 0, 1]}), data)
    dr = handler.diff(c_parts, prior, _desired())
    assert dr.requires_replace == [] and "data/train.parquet changed" in dr.reasons["input_fingerprint"]

    # keep_versions and comment change in place, without a run; where versions live replaces.
    prior_now = {
        **prior,
        "input_fingerprint": handler.plan_computed(c, _desired(), None)["input_fingerprint"],
    }
    assert handler.diff(c, prior_now, _desired(keep_versions=5, comment="x")).changed == [
        "comment",
        "keep_versions",
    ]
    assert handler.plan_computed(c, _desired(keep_versions=5), prior_now) == {}
    assert not handler.retrains(c, prior_now, _desired(keep_versions=5))
    assert handler.diff(c, prior_now, _desired(artifact_location="out")).requires_replace == [
        "artifact_location"
    ]
    # State written before keep_versions existed holds the default.
    legacy = {k: v for k, v in prior_now.items() if k != "keep_versions"}
    assert handler.diff(c, legacy, _desired()).changed == []


def _parts(ctx: ProviderContext) -> dict[str, str]:
    from providers.kit.training import fingerprint

    got = fingerprint(ctx.for_resource("training.churn"), _desired())
    assert got is not None
    return got[1]


def test_delete_spares_the_versions_a_service_uses(
    ctx: ProviderContext, make_provider: Callable[..., LocalProvider], root: Path
) -> None:
    v = [_version(root, f"churn-2026010{i}-000000-aaaaaa", 1_000 + i) for i in range(1, 4)]
    models.record_use(ctx.data_dir, "local-api", [str(v[1])])
    handler: Any = make_provider().handler("training")
    logged: list[str] = []
    c = ctx.for_resource("training.churn")
    c.log = logged.append
    handler.delete(c, v[2].name, {**_desired(), "model_uri": str(v[2])})
    assert models.versions(root, "churn") == [v[1]]
    assert any(v[1].name in line and "local-api" in line for line in logged)
    models.release(ctx.data_dir, "local-api")
    handler.delete(c, v[2].name, {**_desired(), "model_uri": str(v[2])})
    assert not root.exists()
