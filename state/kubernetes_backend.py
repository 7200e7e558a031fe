"""The `kubernetes` backend: state in Secrets, locking with a coordination.k8s.io/v1 Lease.

    mlrt { backend "kubernetes" { namespace = "mlrt"  secret_suffix = "prod" } }

(optional: `kubeconfig`, `context`, `lease_duration_secs` (default 30)). The namespace must exist.

State: the JSON document, gzip-compressed, in Secret `mlrt-state-<suffix>` (key `state`; the
API stores Secret data base64-encoded). A Secret holds at most 1 MiB, so a larger compressed
document is split: the main Secret keeps the first chunk and the checksum and count of all
chunks, Secrets `mlrt-state-<suffix>-part-N` (N = 1, 2, ...) the rest. Parts are written first
and the main Secret last, and a reader checks the checksum, so it sees the old or the new
document, never a mix (a mismatch while a writer is between the two is read again).

Workspaces: `default` keeps the names above; workspace NAME (lowercase letters, digits and "-",
since it becomes part of object names) uses Secret `mlrt-state-NAME-<suffix>` and Lease
`mlrt-lock-NAME-<suffix>`, as Terraform's backend names `tfstate-{workspace}-{secret_suffix}`.
Every Secret carries the labels `mlrt.dev/state: <suffix>` and `mlrt.dev/workspace: NAME`;
`workspaces()` lists the main Secrets by the first, and a read or write refuses a Secret whose
labels name another suffix or workspace (two names that happen to collide).

Locking: Lease `mlrt-lock-<suffix>` (per workspace, as above); `spec.holderIdentity` is the lock id and holder
(`<id> <who>`), annotation `mlrt.dev/lock-info` the holder's LockInfo as JSON. Taking and
releasing use PUT with `resourceVersion`, so two lockers cannot both win. While held, a
background thread renews `renewTime` every third of `leaseDurationSeconds`; a Lease whose
`renewTime + leaseDurationSeconds` has passed (its holder died) is taken over.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from clients.kubernetes import Conflict, KubeClient, ObjRef
from mlrt_iac.errors import PermanentError, ProviderError, RetryableError, StateError
from mlrt_iac.state import LockInfo, StateDocument, locked_error
from mlrt_iac.state.workspace import DEFAULT_WORKSPACE

T = TypeVar("T")
CHUNK = 700 * 1024  # raw bytes per Secret: base64 makes ~933 KiB, under the 1 MiB limit
INFO_ANNOTATION = "mlrt.dev/lock-info"
_POLL = 0.1
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
WORKSPACE_LABEL = "mlrt.dev/workspace"


def _micro(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


class KubernetesBackend:
    """State in Secrets and a Lease lock in one namespace of one cluster."""

    defers_fsync = False  # every write is a PUT the API server has stored when it answers
    supports_workspaces = True

    def __init__(self, project_dir: Path, config: dict[str, Any], workspace: str = DEFAULT_WORKSPACE) -> None:
        self.project_dir = project_dir
        self.namespace = str(config.get("namespace") or "default")
        suffix = config.get("secret_suffix")
        if not suffix:
            raise StateError(
                'The kubernetes backend needs "secret_suffix"',
                'Add secret_suffix = "NAME" to mlrt { backend "kubernetes" { } }; it names '
                "the Secret (mlrt-state-NAME) and Lease (mlrt-lock-NAME).",
            )
        self.suffix = str(suffix)
        if workspace != DEFAULT_WORKSPACE and not _DNS_LABEL.fullmatch(workspace):
            raise StateError(
                f'The workspace name "{workspace}" is not allowed with the kubernetes backend',
                "It becomes part of Secret and Lease names, so it may contain only lowercase "
                'letters, digits and "-", and must start and end with a letter or digit.',
            )
        self.workspace = workspace
        self.secret_name = self._secret_name(workspace)
        self.lease_name = self._name("lock", workspace)
        self._deleted = False  # delete_workspace() ran while locked: unlock deletes the Lease
        self.lease_duration = int(config.get("lease_duration_secs") or 30)
        self._kubeconfig = config.get("kubeconfig")
        self._context = config.get("context")
        self._client: KubeClient | None = None
        self._held: dict[str, threading.Event] = {}

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def client(self) -> KubeClient:
        if self._client is None:
            try:
                self._client = KubeClient(self._kubeconfig, self._context)
            except ProviderError as exc:
                raise StateError(exc.summary, exc.detail) from exc
        return self._client

    def _call(self, fn: Callable[[], T], attempts: int = 5) -> T:
        """Run one API call; transient failures are retried briefly, others become StateError."""
        for i in range(attempts):
            try:
                return fn()
            except RetryableError as exc:
                if i == attempts - 1:
                    raise StateError(exc.summary, exc.detail) from exc
                time.sleep(min(exc.delay, 2.0))
            except PermanentError as exc:
                raise StateError(exc.summary, exc.detail) from exc
        raise AssertionError("unreachable")

    def _ref(self, kind: str, name: str) -> ObjRef:
        api = "coordination.k8s.io/v1" if kind == "Lease" else "v1"
        return ObjRef(api, kind, self.namespace, name)

    def _name(self, what: str, workspace: str) -> str:
        if workspace == DEFAULT_WORKSPACE:
            return f"mlrt-{what}-{self.suffix}"
        return f"mlrt-{what}-{workspace}-{self.suffix}"

    def _secret_name(self, workspace: str) -> str:
        return self._name("state", workspace)

    def _labels(self) -> dict[str, str]:
        return {
            "app.kubernetes.io/managed-by": "mlrt",
            "mlrt.dev/state": self.suffix[:63],
            WORKSPACE_LABEL: self.workspace,
        }

    def _check_owner(self, secret: dict[str, Any]) -> None:
        """Refuse a Secret of another state whose name happens to equal ours."""
        labels = secret["metadata"].get("labels") or {}
        state = labels.get("mlrt.dev/state", self.suffix[:63])
        workspace = labels.get(WORKSPACE_LABEL, DEFAULT_WORKSPACE)
        if state != self.suffix[:63] or workspace != self.workspace:
            raise StateError(
                f'Secret "{self.namespace}/{self.secret_name}" holds another state',
                f'It is labelled for secret_suffix "{state}", workspace "{workspace}"; this '
                f'project uses secret_suffix "{self.suffix}", workspace "{self.workspace}". Choose '
                "another secret_suffix or workspace name; mlrt has not changed the Secret.",
            )

    # --- workspaces -------------------------------------------------------------------------

    def workspaces(self) -> list[str]:
        """`default` and every workspace with a state Secret of this `secret_suffix`."""
        listed = self._call(
            lambda: self.client.list("v1", "Secret", self.namespace, f"mlrt.dev/state={self.suffix[:63]}")
        )
        found: set[str] = set()
        for item in listed.items:
            meta = item.get("metadata") or {}
            ws = (meta.get("labels") or {}).get(WORKSPACE_LABEL, DEFAULT_WORKSPACE)
            if ws != DEFAULT_WORKSPACE and meta.get("name") == self._secret_name(ws):
                found.add(ws)
        return [DEFAULT_WORKSPACE, *sorted(found)]

    def delete_workspace(self) -> None:
        """Delete this workspace's Secrets (the main one first: readers then see no state) and,
        unless this object holds it (then its unlock does), its Lease."""
        if self.workspace == DEFAULT_WORKSPACE:
            raise StateError("Cannot delete the default workspace", "The default workspace always exists.")
        main = self._call(lambda: self.client.get(self._ref("Secret", self.secret_name)))
        if main is not None:
            self._check_owner(main)
            parts = int((main["metadata"].get("annotations") or {}).get("mlrt.dev/parts", "1"))
            names = [self.secret_name] + [f"{self.secret_name}-part-{n}" for n in range(1, parts)]
            for name in names:
                ref = self._ref("Secret", name)
                self._call(lambda ref=ref: self.client.delete(ref, propagation="Background"))  # type: ignore[misc]
        if self._held:
            self._deleted = True
            return
        lease_ref = self._ref("Lease", self.lease_name)
        lease = self._call(lambda: self.client.get(lease_ref))
        if lease is not None and self._free(lease, datetime.now(timezone.utc)):
            self._call(lambda: self.client.delete(lease_ref, propagation="Background"))

    def describe(self) -> str:
        return f'kubernetes Secret "{self.namespace}/{self.secret_name}" (lock: Lease "{self.lease_name}")'

    # --- state ------------------------------------------------------------------------------

    def read(self) -> StateDocument | None:
        for _ in range(5):
            main = self._call(lambda: self.client.get(self._ref("Secret", self.secret_name)))
            if main is None:
                return None
            self._check_owner(main)
            ann = main["metadata"].get("annotations") or {}
            parts = int(ann.get("mlrt.dev/parts", "1"))
            chunks = [base64.b64decode((main.get("data") or {}).get("state", ""))]
            for n in range(1, parts):
                part_ref = self._ref("Secret", f"{self.secret_name}-part-{n}")
                part = self._call(partial(self.client.get, part_ref))
                chunks.append(base64.b64decode(((part or {}).get("data") or {}).get("state", "")))
            blob = b"".join(chunks)
            if hashlib.sha256(blob).hexdigest() == ann.get("mlrt.dev/sha256"):
                return StateDocument.from_json(gzip.decompress(blob), self.describe())
            time.sleep(_POLL)  # a writer is between its parts and the main Secret
        raise StateError(
            f"The state in {self.describe()} is inconsistent",
            "Its parts do not match the checksum in the main Secret. Another process may be "
            "writing without the lock; check `kubectl get secrets` and restore with "
            "`mlrt state push`.",
        )

    def _secret(self, name: str, chunk: bytes, annotations: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": self._labels(),
                "annotations": annotations,
            },
            "data": {"state": base64.b64encode(chunk).decode()},
        }

    def write(self, doc: StateDocument, durable: bool = True) -> None:
        """Store `doc` with its serial bumped by one (always durable: `durable` is ignored)."""
        old = self._call(lambda: self.client.get(self._ref("Secret", self.secret_name)))
        if old is not None:
            self._check_owner(old)
        doc.serial += 1
        blob = gzip.compress(doc.to_json().encode(), mtime=0)
        chunks = [blob[i : i + CHUNK] for i in range(0, len(blob), CHUNK)] or [b""]
        digest = hashlib.sha256(blob).hexdigest()
        old_parts = int(((old or {}).get("metadata", {}).get("annotations") or {}).get("mlrt.dev/parts", "1"))
        for n, chunk in enumerate(chunks[1:], start=1):
            obj = self._secret(f"{self.secret_name}-part-{n}", chunk, {"mlrt.dev/sha256": digest})
            self._call(lambda obj=obj: self.client.apply(obj, force=True))  # type: ignore[misc]
        main = self._secret(
            self.secret_name,
            chunks[0],
            {
                "mlrt.dev/parts": str(len(chunks)),
                "mlrt.dev/sha256": digest,
                "mlrt.dev/serial": str(doc.serial),
                "mlrt.dev/lineage": doc.lineage,
            },
        )
        self._call(lambda: self.client.apply(main, force=True))
        for n in range(len(chunks), old_parts):
            self._call(
                lambda n=n: self.client.delete(
                    self._ref("Secret", f"{self.secret_name}-part-{n}"),  # type: ignore[misc]
                    propagation="Background",
                )
            )

    # --- lock -------------------------------------------------------------------------------

    def _lease_body(self, info: LockInfo, now: datetime, base: dict[str, Any] | None) -> dict[str, Any]:
        spec = dict((base or {}).get("spec") or {})
        spec.update(
            holderIdentity=f"{info.id} {info.who}",
            leaseDurationSeconds=self.lease_duration,
            acquireTime=_micro(now),
            renewTime=_micro(now),
            leaseTransitions=int(spec.get("leaseTransitions") or 0) + (1 if base else 0),
        )
        meta: dict[str, Any] = {
            "name": self.lease_name,
            "namespace": self.namespace,
            "labels": self._labels(),
            "annotations": {INFO_ANNOTATION: json.dumps(info.to_dict(), sort_keys=True)},
        }
        if base:
            meta["resourceVersion"] = base["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    @staticmethod
    def _holder(lease: dict[str, Any]) -> LockInfo | None:
        raw = (lease["metadata"].get("annotations") or {}).get(INFO_ANNOTATION)
        try:
            return LockInfo.from_dict(json.loads(raw)) if raw else None
        except (ValueError, StateError):
            return None

    @staticmethod
    def _free(lease: dict[str, Any], now: datetime) -> bool:
        spec = lease.get("spec") or {}
        if not spec.get("holderIdentity"):
            return True
        renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime"))
        duration = int(spec.get("leaseDurationSeconds") or 0)
        return renewed is None or renewed + timedelta(seconds=duration) < now

    def lock(self, info: LockInfo, timeout: float = 0.0) -> str:
        info = LockInfo(**{**info.to_dict(), "path": self.describe()})
        deadline = time.monotonic() + max(timeout, 0.0)
        ref = self._ref("Lease", self.lease_name)
        while True:
            now = datetime.now(timezone.utc)
            lease = self._call(lambda: self.client.get(ref))
            try:
                if lease is None:
                    self.client.create(self._lease_body(info, now, None))
                    break
                if self._free(lease, now):
                    self.client.replace(self._lease_body(info, now, lease))
                    break
            except PermanentError as exc:
                raise StateError(exc.summary, exc.detail) from exc
            except RetryableError:  # a Conflict means someone else won the race: look again
                pass
            if time.monotonic() >= deadline:
                latest = self._call(lambda: self.client.get(ref))
                raise locked_error(self._holder(latest) if latest else None)
            time.sleep(_POLL)
        stop = threading.Event()
        self._held[info.id] = stop
        threading.Thread(
            target=self._renew, args=(info, stop), name=f"mlrt-lease-{self.suffix}", daemon=True
        ).start()
        return info.id

    def _renew(self, info: LockInfo, stop: threading.Event) -> None:
        """Keep the Lease fresh while held; stop quietly if it was taken from us."""
        ref = self._ref("Lease", self.lease_name)
        while not stop.wait(max(self.lease_duration / 3, 0.05)):
            try:
                lease = self.client.get(ref)
                if lease is None or not str((lease.get("spec") or {}).get("holderIdentity", "")).startswith(
                    info.id
                ):
                    return
                lease["spec"]["renewTime"] = _micro(datetime.now(timezone.utc))
                self.client.replace(lease)
            except (ProviderError, OSError):
                continue  # transient: the next tick tries again

    def _release(self, lock_id: str, force: bool) -> None:
        stop = self._held.pop(lock_id, None)
        if stop is not None:
            stop.set()
        ref = self._ref("Lease", self.lease_name)
        for _ in range(5):
            lease = self._call(lambda: self.client.get(ref))
            holder = str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")
            if lease is None or not holder:
                return
            if not holder.startswith(lock_id + " "):
                if not force:
                    return  # it expired and someone else holds it now: nothing of ours to release
                info = self._holder(lease)
                raise StateError(
                    "Lock ID does not match the holder",
                    f"The state is locked with ID {info.id if info else holder.split(' ')[0]}, not "
                    f"{lock_id}. Pass that ID to force-unlock.",
                )
            lease["spec"]["holderIdentity"] = None
            lease["spec"].pop("renewTime", None)
            lease["metadata"].setdefault("annotations", {}).pop(INFO_ANNOTATION, None)
            try:
                self.client.replace(lease)
                if self._deleted and not self._held:  # the workspace is gone: so is its Lease
                    self.client.delete(ref, propagation="Background")
                return
            except Conflict:
                continue  # the Lease changed since it was read: read it again
            except ProviderError as exc:
                raise StateError(exc.summary, exc.detail) from exc
        raise StateError("Could not release the state lock", "The Lease kept changing; try force-unlock.")

    def unlock(self, lock_id: str) -> None:
        self._release(lock_id, force=False)

    def force_unlock(self, lock_id: str) -> None:
        self._release(lock_id, force=True)

    def close(self) -> None:
        for stop in self._held.values():
            stop.set()
        if self._client is not None:
            self._client.close()
            self._client = None
