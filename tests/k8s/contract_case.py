"""The kubernetes provider as a case of the generic provider contract suite.

The suite (tests/contract/provider_suite.py) runs the same checks over every provider; this
module is what it needs from this one, without a real cluster:

- `kube_case(apiserver, tmp_path)`: a `KubeCase` holding a KubernetesProvider configured against
  the repository's test API server (tests/k8s/apiserver.py, real REST) and a ProviderContext;
  `case.context(type_name)` gives the context one resource of that type is handled with.
- `minimal_desired(type_name)`: minimal valid desired attributes, complete as the engine hands
  them to a handler (validated by `mlrt_iac.model`, schema defaults and derived values filled,
  computed attributes absent), for every type in `CONTRACT_TYPES`.
- `related_for(type_name)`: the `ctx.related` those attributes reference.

The apiserver fixture lives in tests/k8s/conftest.py; the suite reuses it through this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrt_iac.config.instances import ResourceInstance
from mlrt_iac.diagnostics import SourceRange
from mlrt_iac.model import validate_instances
from mlrt_iac.plan.desired import desired_attributes
from mlrt_iac.provider import ProviderContext, Related
from providers.kubernetes import KubernetesProvider

from .apiserver import TestApiServer

CONTRACT_TYPES = ("compute_pool", "image_repository", "network_rule", "external_access_integration")

# What a user writes, at the least, per type (labels: the block label of each).
_WRITTEN: dict[str, tuple[str, dict[str, Any]]] = {
    "compute_pool": ("pool", {"instance_family": "CPU_X64_XS"}),
    "image_repository": ("images", {}),
    "network_rule": ("pypi", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org:443"]}),
    "external_access_integration": ("egress", {"allowed_network_rules": ["pypi"]}),
}
_HERE = SourceRange.at("contract_case.hcl", 1)


def _instance(type_name: str) -> ResourceInstance:
    label, attrs = _WRITTEN[type_name]
    return ResourceInstance(
        f"{type_name}.{label}", type_name, label, None, "", "kubernetes", dict(attrs), _HERE
    )


def address_of(type_name: str) -> str:
    return f"{type_name}.{_WRITTEN[type_name][0]}"


def minimal_desired(type_name: str) -> dict[str, Any]:
    """Minimal valid desired attributes of `type_name`, as the engine fills them."""
    instances = [_instance(t) for t in CONTRACT_TYPES]
    models, diags = validate_instances(instances, cross=True)
    assert not diags.has_errors, [d.summary for d in diags]
    inst = next(i for i in instances if i.type == type_name)
    return desired_attributes(inst, models[inst.address])


def related_for(type_name: str) -> dict[str, Related]:
    """`ctx.related` of `type_name`'s minimal instance: an integration sees its network rule."""
    if type_name != "external_access_integration":
        return {}
    rule = address_of("network_rule")
    return {rule: Related(rule, "network_rule", "pypi", minimal_desired("network_rule"))}


@dataclass
class KubeCase:
    provider: KubernetesProvider
    ctx: ProviderContext

    def context(self, type_name: str, deadline_secs: float = 30.0) -> ProviderContext:
        """The context a handler of `type_name` gets for the minimal instance, with a deadline."""
        return self.ctx.for_resource(
            address_of(type_name), related_for(type_name), deadline=time.monotonic() + deadline_secs
        )


@contextmanager
def kube_case(apiserver: TestApiServer, tmp_path: Path) -> Iterator[KubeCase]:
    """A KubernetesProvider pointed at `apiserver` (fast polling), closed afterwards."""
    kubeconfig = apiserver.kubeconfig(tmp_path / "kubeconfig")
    apiserver.auto_ready(after_gets=1)
    ctx = ProviderContext(tmp_path, tmp_path / ".mlrt")
    provider = KubernetesProvider()
    diags = provider.configure({"kubeconfig": str(kubeconfig), "poll_interval_secs": 0.01}, ctx)
    assert not diags.has_errors, [d.summary for d in diags]
    try:
        yield KubeCase(provider, ctx)
    finally:
        provider.close()
