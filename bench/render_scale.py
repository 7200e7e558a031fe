"""Render 1,000 services and 100 pools with the kubernetes provider; print seconds and MB of YAML.

Baseline / target: the whole render (manifests + YAML text) in at most 2 s on the CI machine.
Run: python bench/render_scale.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from mlrt_iac.provider import RenderItem
from providers.kubernetes.config import KubernetesConfig
from providers.kubernetes.render import render_items
from providers.kubernetes.write import dump, write_render

TARGET_S = 2.0


def items(pools: int = 100, services: int = 1000) -> list[RenderItem]:
    out = [
        RenderItem(
            f"compute_pool.p{i}",
            "compute_pool",
            {
                "name": f"p{i}",
                "instance_family": "GPU_NV_S" if i % 10 == 0 else "CPU_X64_M",
                "min_nodes": 1,
                "max_nodes": 4,
                # what the engine fills before rendering (the schema's defaults)
                "active_nodes": 1,
                "auto_suspend_secs": 3600,
            },
        )
        for i in range(pools)
    ]
    out.append(
        RenderItem(
            "network_rule.r",
            "network_rule",
            {"name": "r", "mode": "EGRESS", "type": "HOST_PORT", "value_list": ["api.example.com:443"]},
        )
    )
    out.append(
        RenderItem(
            "external_access_integration.e",
            "external_access_integration",
            {"name": "e", "allowed_network_rules": ["r"], "enabled": True},
        )
    )
    out += [
        RenderItem(
            f"service.s{i}",
            "service",
            {
                "name": f"s{i}",
                "compute_pool": f"p{i % pools}",
                "model": f"s3://m/{i}",
                "max_instances": 2,
                # what the engine fills before rendering (derived from the pool's family)
                "functions": ["predict"],
                "gpu_requests": 0,
                "num_workers": 13,
                "max_queue": 52,
                "ingress_enabled": i % 2 == 0,
                "external_access_integrations": ["e"] if i % 5 == 0 else [],
            },
        )
        for i in range(services)
    ]
    return out


def main() -> None:
    its = items()
    cfg = KubernetesConfig(fqdn_policies="cilium")
    t0 = time.perf_counter()
    out = render_items(its, cfg)
    t1 = time.perf_counter()
    text = "---\n".join(dump(m) for m in out.manifests)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        t3 = time.perf_counter()
        write_render(out.manifests, Path(tmp))
        t4 = time.perf_counter()
    mb = len(text.encode()) / 1e6
    print("benchmark                      objects  render_s  yaml_s  total_s  yaml_MB  write_dir_s  target")
    print(
        f"render_scale 1000 svc/100 pool {len(out.manifests):7d}  {t1 - t0:8.3f}  {t2 - t1:6.3f}  "
        f"{t2 - t0:7.3f}  {mb:7.2f}  {t4 - t3:11.3f}  <= {TARGET_S:.1f} s total "
        f"({'met' if t2 - t0 <= TARGET_S else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
