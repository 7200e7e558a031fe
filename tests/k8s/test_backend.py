"""The kubernetes state backend against the test API server: Secrets, splitting, Lease locking."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from clients.kubernetes import KubeClient
from mlrt_iac.errors import StateError, StateLockedError
from mlrt_iac.state import LockInfo, ResourceState, StateDocument, load_backend
from state.kubernetes_backend import KubernetesBackend

from .apiserver import TestApiServer

NS = "state-ns"


@pytest.fixture()
def config(apiserver: TestApiServer, kubeconfig: Path) -> Iterator[dict]:  # type: ignore[type-arg]
    with apiserver.store.lock:
        apiserver.store.objects.clear()
        apiserver.faults.clear()
    KubeClient(str(kubeconfig)).apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    yield {"namespace": NS, "secret_suffix": "prod", "kubeconfig": str(kubeconfig), "lease_duration_secs": 1}


def _doc(n: int, blob: int = 0) -> StateDocument:
    doc = StateDocument.new()
    for i in range(n):
        doc.set(
            ResourceState.new(
                f"service.s{i}",
                "kubernetes",
                id=f"Deployment/ns/s{i}",
                attributes={"name": f"s{i}", "junk": os.urandom(blob).hex() if blob else ""},
            )
        )
    return doc


def test_round_trip_through_entry_point(config: dict, apiserver: TestApiServer, tmp_path: Path) -> None:  # type: ignore[type-arg]
    backend = load_backend("kubernetes", tmp_path, config)
    assert isinstance(backend, KubernetesBackend)
    assert backend.read() is None
    doc = _doc(3)
    backend.write(doc)
    assert doc.serial == 1
    back = backend.read()
    assert back is not None and back.same_content(doc) and back.serial == 1 and back.lineage == doc.lineage
    secret = apiserver.get("Secret", NS, "mlrt-state-prod")
    assert secret is not None and secret["metadata"]["annotations"]["mlrt.dev/parts"] == "1"
    assert b'"service.s0"' not in secret["data"]["state"].encode()  # compressed, not plain JSON


def test_large_state_is_split_and_shrinks_back(
    config: dict, apiserver: TestApiServer, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    backend = KubernetesBackend(tmp_path, config)
    big = _doc(40, blob=40_000)  # random hex does not compress: ~3.2 MB of JSON, ~1.6 MB gzipped
    backend.write(big)
    names = sorted(o["metadata"]["name"] for o in apiserver.objects("Secret"))
    assert names[0] == "mlrt-state-prod" and "mlrt-state-prod-part-1" in names and len(names) >= 3
    assert all(len(o["data"]["state"]) < 1024 * 1024 for o in apiserver.objects("Secret"))
    back = backend.read()
    assert back is not None and back.same_content(big)
    small = _doc(2)
    small.serial = big.serial
    backend.write(small)
    assert [o["metadata"]["name"] for o in apiserver.objects("Secret")] == ["mlrt-state-prod"]
    assert backend.read().same_content(small)  # type: ignore[union-attr]


def test_torn_read_is_detected(config: dict, apiserver: TestApiServer, tmp_path: Path) -> None:  # type: ignore[type-arg]
    backend = KubernetesBackend(tmp_path, config)
    backend.write(_doc(40, blob=40_000))
    apiserver.edit("Secret", NS, "mlrt-state-prod-part-1", {"data": {"state": "AAAA"}})
    with pytest.raises(StateError) as err:
        backend.read()
    assert "inconsistent" in err.value.summary


def test_lock_contention_and_release(config: dict, apiserver: TestApiServer, tmp_path: Path) -> None:  # type: ignore[type-arg]
    a, b = KubernetesBackend(tmp_path, config), KubernetesBackend(tmp_path, config)
    holder = LockInfo(operation="apply", who="alice@ci")
    lock_id = a.lock(holder)
    lease = apiserver.get("Lease", NS, "mlrt-lock-prod")
    assert lease is not None and lease["spec"]["holderIdentity"] == f"{lock_id} alice@ci"
    try:
        with pytest.raises(StateLockedError) as err:
            b.lock(LockInfo(operation="plan", who="bob@laptop"), timeout=0.3)
        assert "alice@ci" in err.value.summary and lock_id in err.value.summary
        assert err.value.info["operation"] == "apply"
        # The holder keeps renewing while it holds the lock.
        first = lease["spec"]["renewTime"]
        deadline = time.monotonic() + 5
        while apiserver.get("Lease", NS, "mlrt-lock-prod")["spec"]["renewTime"] == first:  # type: ignore[index]
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.05)
        with pytest.raises(StateError):
            b.force_unlock("not-the-id")
    finally:
        a.unlock(lock_id)
    assert not apiserver.get("Lease", NS, "mlrt-lock-prod")["spec"].get("holderIdentity")  # type: ignore[index]
    second = b.lock(LockInfo(operation="plan", who="bob@laptop"))
    b.force_unlock(second)
    a.close()
    b.close()


def test_takeover_only_after_expiry(config: dict, apiserver: TestApiServer, tmp_path: Path) -> None:  # type: ignore[type-arg]
    a, b = (
        KubernetesBackend(tmp_path, {**config, "lease_duration_secs": 30}),
        KubernetesBackend(tmp_path, config),
    )
    dead = a.lock(LockInfo(operation="apply", who="crashed@ci"))
    a.close()  # the holder dies: no more renewals, no release
    with pytest.raises(StateLockedError):
        b.lock(LockInfo(operation="apply", who="next@ci"))  # 30 s lease still valid
    past = (datetime.now(timezone.utc) - timedelta(seconds=31)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    apiserver.edit("Lease", NS, "mlrt-lock-prod", {"spec": {"renewTime": past}}, manager="clock")
    taken = b.lock(LockInfo(operation="apply", who="next@ci"))
    lease = apiserver.get("Lease", NS, "mlrt-lock-prod")
    assert lease is not None and lease["spec"]["holderIdentity"].startswith(taken)
    assert lease["spec"]["leaseTransitions"] == 1
    a.unlock(dead)  # the old holder's late unlock must not release the new holder's lock
    assert apiserver.get("Lease", NS, "mlrt-lock-prod")["spec"]["holderIdentity"].startswith(taken)  # type: ignore[index]
    b.unlock(taken)
    b.close()


def test_missing_suffix_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateError) as err:
        KubernetesBackend(tmp_path, {"namespace": "x"})
    assert "secret_suffix" in err.value.summary


def test_workspaces_get_their_own_secret_and_lease(
    config: dict, apiserver: TestApiServer, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    default = load_backend("kubernetes", tmp_path, config)
    dev = load_backend("kubernetes", tmp_path, config, "dev")
    assert isinstance(dev, KubernetesBackend)
    default.write(_doc(1))
    dev.write(_doc(2))
    lock_id = dev.lock(LockInfo(operation="apply"))
    assert sorted(o["metadata"]["name"] for o in apiserver.objects("Secret")) == [
        "mlrt-state-dev-prod",
        "mlrt-state-prod",  # default keeps the name it always had
    ]
    assert apiserver.get("Lease", NS, "mlrt-lock-dev-prod") is not None
    assert (
        apiserver.get("Secret", NS, "mlrt-state-dev-prod")["metadata"]["labels"]["mlrt.dev/workspace"]
        == "dev"
    )  # type: ignore[index]
    assert default.workspaces() == ["default", "dev"]  # type: ignore[attr-defined]
    assert len(default.read()) == 1 and len(dev.read()) == 2  # type: ignore[arg-type]
    dev.delete_workspace()  # type: ignore[attr-defined]
    dev.unlock(lock_id)
    assert [o["metadata"]["name"] for o in apiserver.objects("Secret")] == ["mlrt-state-prod"]
    assert apiserver.get("Lease", NS, "mlrt-lock-dev-prod") is None
    default.close()  # type: ignore[attr-defined]
    dev.close()


def test_workspace_names_must_fit_kubernetes_names(config: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    for bad in ("Dev", "a_b", "x-"):
        with pytest.raises(StateError, match="not allowed with the kubernetes backend"):
            KubernetesBackend(tmp_path, config, bad)


def test_a_secret_of_another_state_with_the_same_name_is_refused(config: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    # suffix "b-prod" in workspace "a" and suffix "prod" in workspace "a-b" both name mlrt-state-a-b-prod
    one = KubernetesBackend(tmp_path, {**config, "secret_suffix": "b-prod"}, "a")
    one.write(_doc(1))
    other = KubernetesBackend(tmp_path, config, "a-b")
    assert other.secret_name == one.secret_name
    with pytest.raises(StateError, match="holds another state"):
        other.read()
    with pytest.raises(StateError, match="holds another state"):
        other.write(_doc(2))
    assert len(one.read()) == 1  # type: ignore[arg-type]
    assert other.workspaces() == ["default"]  # one's Secret is not listed as other's "a-b"
    one.close()
    other.close()
