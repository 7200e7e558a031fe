"""Talking to a Ray cluster's dashboard: address resolution, the reachability and version check,
the state API (nodes), the Jobs client and the Serve REST API.

Every call has a short timeout so that an unreachable address fails within 10 seconds with the
address and what was tried, instead of hanging in Ray's own retry loops.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from mlrt_iac.errors import PermanentError, RetryableError

CONNECT_TIMEOUT = 4.0
DEFAULT_DASHBOARD = "http://127.0.0.1:8265"


def resolve_address(address: str) -> str:
    """A dashboard URL from `address`: a URL, `host:port`, or `auto` (RAY_ADDRESS when it is an
    http URL, else the default local dashboard)."""
    text = address.strip()
    if text == "auto":
        env = os.environ.get("RAY_ADDRESS", "")
        text = env if env.startswith(("http://", "https://")) else DEFAULT_DASHBOARD
    if text.startswith("ray://"):
        raise PermanentError(
            f'Unsupported Ray address "{address}"',
            "mlrt talks to the dashboard (Jobs and Serve REST APIs): give its URL, such as "
            '"http://HEAD:8265", not a Ray Client ray:// address.',
        )
    if "://" not in text:
        text = "http://" + text
    return text.rstrip("/")


def local_ray_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ray")
    except PackageNotFoundError:
        return "not installed"


@dataclass
class Dashboard:
    """One cluster's dashboard (base URL + auth headers)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)

    def _client(self, timeout: float) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers=self.headers, timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT)
        )

    def request(self, method: str, path: str, timeout: float = 8.0, **kwargs: Any) -> httpx.Response:
        """One HTTP call; a connection failure is a PermanentError naming the address."""
        try:
            with self._client(timeout) as c:
                return c.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise PermanentError(
                f"The Ray cluster at {self.url} did not answer",
                f"Tried {method} {self.url}{path}: no answer within {timeout:g}s ({exc}). "
                "Check that the cluster is running and the address in the provider "
                '"ray" block (or the compute pool) is right.',
            ) from exc
        except httpx.HTTPError as exc:
            raise PermanentError(
                f"Cannot reach the Ray cluster at {self.url}",
                f"Tried {method} {self.url}{path}: {exc}. Start the cluster (`ray start "
                '--head`), or fix `address` in the provider "ray" block.',
            ) from exc

    def reachable(self) -> bool:
        try:
            return self.request("GET", "/api/version", timeout=3.0).status_code == 200
        except PermanentError:
            return False

    def check(self) -> dict[str, Any]:
        """Reachable, authorised and running the same Ray version as this client."""
        resp = self.request("GET", "/api/version", timeout=6.0)
        if resp.status_code in (401, 403):
            raise PermanentError(
                f"The Ray cluster at {self.url} refused mlrt ({resp.status_code})",
                'Set the token header it expects in the provider "ray" block: '
                'headers = { Authorization = "Bearer ..." }.',
            )
        if resp.status_code != 200:
            raise PermanentError(
                f"{self.url} does not look like a Ray dashboard",
                f"GET {self.url}/api/version answered {resp.status_code}. Point `address` "
                "at the dashboard (port 8265 by default).",
            )
        info = dict(resp.json())
        theirs, ours = str(info.get("ray_version", "?")), local_ray_version()
        if theirs != ours:
            raise PermanentError(
                f"Ray version mismatch: the cluster at {self.url} runs Ray {theirs}, mlrt has Ray {ours}",
                f"Jobs and Serve applications need the same Ray version on both sides. "
                f"Install ray=={theirs} where mlrt runs, or upgrade the cluster.",
            )
        return info

    # -- state API -------------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        """Alive nodes as {name, cpus, gpus, memory (GiB)}, head first, then by name."""
        resp = self.request("GET", "/api/v0/nodes", params={"limit": 1000, "detail": "true"})
        if resp.status_code != 200:
            raise RetryableError(
                f"The Ray state API at {self.url} answered {resp.status_code}", resp.text[:300], delay=2.0
            )
        rows = resp.json().get("data", {}).get("result", {}).get("result", [])
        out = []
        for row in rows:
            if row.get("state") != "ALIVE":
                continue
            res = row.get("resources_total") or {}
            out.append(
                {
                    "name": str(row.get("node_name") or row.get("node_id")),
                    "cpus": _num(res.get("CPU", 0)),
                    "gpus": int(res.get("GPU", 0) or 0),
                    "memory": _num(round(float(res.get("memory", 0)) / 2**30, 2)),
                    "_head": bool(row.get("is_head_node")),
                    "_id": str(row.get("node_id")),
                }
            )
        out.sort(key=lambda n: (not n["_head"], n["name"]))
        return out

    # -- jobs ------------------------------------------------------------------------------
    def jobs(self) -> Any:
        """A JobSubmissionClient for this cluster (after the version check)."""
        import logging

        from ray.job_submission import JobSubmissionClient

        # Ray's SDK logs its uploads at INFO on stderr; mlrt reports the submission itself.
        for name in (
            "ray.dashboard.modules.dashboard_sdk",
            "ray._private.runtime_env.packaging",
            "ray.dashboard.modules.job.sdk",
        ):
            logging.getLogger(name).setLevel(logging.WARNING)
        return JobSubmissionClient(self.url, headers=self.headers or None)

    def job_info(self, job_id: str) -> dict[str, Any] | None:
        resp = self.request("GET", f"/api/jobs/{job_id}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise RetryableError(
                f"Reading Ray job {job_id} failed ({resp.status_code})", resp.text[:300], delay=2.0
            )
        return dict(resp.json())

    def list_jobs(self) -> dict[str, dict[str, Any]]:
        """Every job of the cluster in one GET, by submission id (and by job id, which
        `job_info` also accepts)."""
        resp = self.request("GET", "/api/jobs/", timeout=20.0)
        if resp.status_code != 200:
            raise RetryableError(f"Listing Ray jobs failed ({resp.status_code})", resp.text[:300], delay=2.0)
        out: dict[str, dict[str, Any]] = {}
        for job in resp.json() or []:
            for key in ("job_id", "submission_id"):  # the submission id wins a clash
                if job.get(key):
                    out[str(job[key])] = dict(job)
        return out

    def job_logs(self, job_id: str) -> str:
        resp = self.request("GET", f"/api/jobs/{job_id}/logs", timeout=20.0)
        if resp.status_code != 200:
            return ""
        return str(resp.json().get("logs") or "")

    def stop_job(self, job_id: str) -> None:
        self.request("POST", f"/api/jobs/{job_id}/stop")

    def delete_job(self, job_id: str) -> None:
        self.request("DELETE", f"/api/jobs/{job_id}")

    # -- serve -----------------------------------------------------------------------------
    def serve_status(self) -> dict[str, Any]:
        resp = self.request("GET", "/api/serve/applications/")
        if resp.status_code != 200:
            raise RetryableError(
                f"The Serve API at {self.url} answered {resp.status_code}", resp.text[:300], delay=2.0
            )
        return dict(resp.json())

    def serve_put(self, config: dict[str, Any]) -> None:
        resp = self.request("PUT", "/api/serve/applications/", json=config, timeout=30.0)
        if resp.status_code != 200:
            raise PermanentError(
                f"Ray Serve at {self.url} refused the configuration ({resp.status_code})", resp.text[:2000]
            )


def _num(x: Any) -> float | int:
    f = float(x or 0)
    return int(f) if f.is_integer() else f


def wait_until(pred: Any, timeout: float, interval: float = 0.25) -> bool:
    """Poll `pred()` until true or `timeout` seconds pass; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
