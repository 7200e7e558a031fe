"""The provider contract suite (`provider_suite.py`) over the providers this machine runs cheaply.

To add a provider: write a factory `(tmp_path) -> ProviderUnderTest` below and register it in
`PROVIDERS` with the types it covers; every check then runs for every (provider, type). Types
whose create is slow (trainings run, services start servers) stay out of this loop; they are
covered by tests/e2e.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlrt_iac.provider import Provider, ProviderContext, Related
from providers.kubernetes import KubernetesProvider
from providers.local import LocalProvider
from providers.ray import RayProvider

from .provider_suite import BATCH_CHECKS, CHECKS, ProviderUnderTest


def local_provider(tmp_path: Path) -> ProviderUnderTest:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "not-a-dir").write_text("a file where a registry directory would go\n")
    ctx = ProviderContext(project_dir=project, data_dir=project / ".mlrt")
    provider = LocalProvider()
    diags = provider.configure({}, ctx)
    assert not diags.has_errors, list(diags)

    def prepare(type_name: str, ctx: ProviderContext) -> dict[str, Related]:
        if type_name != "external_access_integration":
            return {}
        rule = {"name": "contract-rule", "mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org"]}
        return {
            "network_rule.contract_rule": Related(
                "network_rule.contract_rule", "network_rule", "contract-rule", rule
            )
        }

    return ProviderUnderTest(
        provider=provider,
        ctx=ctx,
        required={
            "compute_pool": {"instance_family": "CPU_X64_XS"},
            "image_repository": {},
            "network_rule": {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org"]},
            "external_access_integration": {"allowed_network_rules": ["contract-rule"]},
        },
        invalid={
            "compute_pool": {"instance_family": "NOPE_XL"},
            "image_repository": {"registry": "not-a-dir"},
            "network_rule": {"value_list": ["bad host:99999"]},
            "external_access_integration": {"allowed_network_rules": ["no-such-rule"]},
        },
        prepare=prepare,
    )


def ray_provider(tmp_path: Path) -> ProviderUnderTest:
    """The ray provider's record-keeping types (no cluster needed): image repositories as layout
    directories, network rules and integrations as the kit records them."""
    case = local_provider(tmp_path)
    provider = RayProvider()
    diags = provider.configure({}, case.ctx)
    assert not diags.has_errors, list(diags)
    return ProviderUnderTest(
        provider=provider,
        ctx=case.ctx,
        required=case.required,
        invalid={**case.invalid, "image_repository": {"registry": "https://registry.example.com"}},
        prepare=case.prepare,
    )


def kubernetes_provider(tmp_path: Path) -> ProviderUnderTest:
    """The kubernetes provider against the repository's test API server (real REST protocol),
    started for this case and stopped by its cleanup. Only `compute_pool` is in the loop: the
    other infrastructure types are records on Kubernetes (a registry URL, egress entries that
    workloads' NetworkPolicies carry) with no cluster object of their own to go missing; their
    create/diff/delete checks are in tests/k8s/test_contract_kube.py."""
    from tests.k8s.apiserver import TestApiServer
    from tests.k8s.contract_case import kube_case

    server = TestApiServer().start()
    case_cm = kube_case(server, tmp_path)
    case = case_cm.__enter__()
    return ProviderUnderTest(
        provider=case.provider,
        ctx=case.ctx,
        required={"compute_pool": {"instance_family": "CPU_X64_XS"}},
        invalid={"compute_pool": {"instance_family": "NOPE_XL"}},
        cleanup=[server.stop, lambda: case_cm.__exit__(None, None, None)],
    )


PROVIDERS: dict[str, tuple[Callable[[Path], ProviderUnderTest], tuple[str, ...]]] = {
    "local": (
        local_provider,
        ("compute_pool", "image_repository", "network_rule", "external_access_integration"),
    ),
    "ray": (ray_provider, ("image_repository", "network_rule", "external_access_integration")),
    "kubernetes": (kubernetes_provider, ("compute_pool",)),
}

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "local": LocalProvider,
    "ray": RayProvider,
    "kubernetes": KubernetesProvider,
}


def _batch_readers() -> set[tuple[str, str]]:
    """(provider, type) pairs whose handler has `read_many`: the BATCH_CHECKS run for those."""
    return {
        (name, h.type_name)
        for name, cls in PROVIDER_CLASSES.items()
        for h in cls.handler_classes
        if callable(getattr(h, "read_many", None))
    }


BATCH_READERS = _batch_readers()

CASES = [
    pytest.param(provider, type_name, check, id=f"{provider}-{type_name}-{check}")
    for provider, (_, types) in PROVIDERS.items()
    for type_name in types
    for check in CHECKS
    if check not in BATCH_CHECKS or (provider, type_name) in BATCH_READERS
]


def test_every_provider_of_the_suite_has_a_class_here() -> None:
    """A provider added to PROVIDERS without its class in PROVIDER_CLASSES would silently skip
    the read_many checks."""
    assert set(PROVIDERS) <= set(PROVIDER_CLASSES)
    assert ("kubernetes", "compute_pool") in BATCH_READERS


@pytest.fixture
def put(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProviderUnderTest]:
    factory, _ = PROVIDERS[request.node.callspec.params["provider"]]
    under_test = factory(tmp_path)
    yield under_test
    for undo in reversed(under_test.cleanup):
        undo()
    under_test.provider.close()


@pytest.mark.parametrize(("provider", "type_name", "check"), CASES)
def test_contract(put: ProviderUnderTest, provider: str, type_name: str, check: str) -> None:
    CHECKS[check](put, type_name)
