"""Fixtures: a test Kubernetes API server per test module, and a provider pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlrt_iac.provider import ProviderContext, Related
from providers.kubernetes import KubernetesProvider

from .apiserver import TestApiServer


@pytest.fixture(scope="module")
def apiserver() -> Iterator[TestApiServer]:
    server = TestApiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def kubeconfig(apiserver: TestApiServer, tmp_path: Path) -> Path:
    return apiserver.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture()
def provider(kubeconfig: Path, tmp_path: Path) -> Iterator[KubernetesProvider]:
    p = KubernetesProvider()
    diags = p.configure(
        {"kubeconfig": str(kubeconfig), "poll_interval_secs": 0.01, "ready_timeout_secs": 20}, ctx(tmp_path)
    )
    assert not diags.has_errors, diags
    try:
        yield p
    finally:
        p.close()


def ctx(tmp_path: Path, address: str = "", related: dict[str, Related] | None = None) -> ProviderContext:
    return ProviderContext(tmp_path, tmp_path / ".mlrt", address, related=related or {})
