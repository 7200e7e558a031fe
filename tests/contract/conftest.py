"""How the backend contract suite reaches each registered backend.

`HARNESSES` maps a backend's entry-point name (`mlrt.backends`) to a function that builds the
storage it needs and returns `make()`: each call constructs a new backend object (a new
"client") on the SAME storage (`make("NAME")`: for workspace NAME), so two objects can compete for the lock. A backend registered
without a harness here fails every contract test with a message saying so: a new backend gets
the suite by adding one function, never by being skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.state import Backend, discover_backends
from tests.k8s.apiserver import TestApiServer

MakeBackend = Callable[..., Backend]
BACKENDS = sorted(discover_backends())


def _build(factory: Any, tmp_path: Path, config: dict[str, Any]) -> MakeBackend:
    """Constructed as the CLI constructs it: with a workspace only when it is not `default`."""

    def make(workspace: str = "default") -> Backend:
        if workspace == "default":
            return factory(tmp_path, dict(config))  # type: ignore[no-any-return]
        return factory(tmp_path, dict(config), workspace)  # type: ignore[no-any-return]

    return make


def _local(request: pytest.FixtureRequest, tmp_path: Path, factory: Any) -> MakeBackend:
    return _build(factory, tmp_path, {})


def _kubernetes(request: pytest.FixtureRequest, tmp_path: Path, factory: Any) -> MakeBackend:
    server: TestApiServer = request.getfixturevalue("contract_apiserver")
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    config = {
        "namespace": "contract",
        "secret_suffix": uuid.uuid4().hex[:12],  # fresh Secret and Lease names per test
        "kubeconfig": str(kubeconfig),
    }
    return _build(factory, tmp_path, config)


HARNESSES: dict[str, Callable[[pytest.FixtureRequest, Path, Any], MakeBackend]] = {
    "local": _local,
    "kubernetes": _kubernetes,
}


@pytest.fixture(scope="module")
def contract_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestApiServer]:
    from clients.kubernetes import KubeClient

    server = TestApiServer().start()
    try:
        kubeconfig = server.kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
        client = KubeClient(str(kubeconfig))
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "contract"}})
        client.close()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeBackend]:
    """`make()` -> a new backend object on this test's storage (`make("a")`: workspace "a");
    all are closed at the end."""
    name: str = request.param
    harness = HARNESSES.get(name)
    if harness is None:
        pytest.fail(
            f'backend "{name}" is registered under mlrt.backends but tests/contract/conftest.py '
            "has no harness for it: add one to HARNESSES"
        )
    factory = discover_backends()[name]
    made: list[Backend] = []
    inner = harness(request, tmp_path, factory)

    def make(workspace: str = "default") -> Backend:
        backend = inner(workspace)
        made.append(backend)
        return backend

    try:
        yield make
    finally:
        for backend in made:
            close = getattr(backend, "close", None)
            if callable(close):
                close()
