"""The Kubernetes provider: KubeRay, Deployments and NetworkPolicies; manifests for GitOps."""

from .provider import KubernetesProvider
from .render import RenderIndex, render_items, render_resource
from .write import write_render

__all__ = [
    "KubernetesProvider",
    "RenderIndex",
    "render_items",
    "render_resource",
    "write_render",
]
