"""Representative RenderItems: what the engine hands the provider for a typical configuration
(complete attributes: the defaults the engine fills, such as active_nodes and num_workers, set)."""

from __future__ import annotations

from mlrt_iac.provider import RenderItem


def representative_items() -> list[RenderItem]:
    return [
        RenderItem(
            "compute_pool.cpu",
            "compute_pool",
            {
                "name": "cpu",
                "instance_family": "CPU_X64_S",
                "min_nodes": 1,
                "max_nodes": 3,
                "active_nodes": 2,
                "auto_resume": True,
                "auto_suspend_secs": 1800,
                "initially_suspended": False,
                "scale_timeout_secs": 720,
                "labels": {},
            },
        ),
        RenderItem(
            'module.team["a"].compute_pool.gpu_pool',
            "compute_pool",
            {
                "name": "gpu_pool",
                "instance_family": "GPU_NV_S",
                "min_nodes": 1,
                "max_nodes": 1,
                "active_nodes": 1,
                "initially_suspended": True,
            },
        ),
        RenderItem(
            "image_repository.models", "image_repository", {"name": "models", "registry": "ghcr.io/acme"}
        ),
        RenderItem(
            "network_rule.pypi",
            "network_rule",
            {
                "name": "pypi",
                "mode": "EGRESS",
                "type": "HOST_PORT",
                "value_list": ["pypi.org", "*.pythonhosted.org:443"],
            },
        ),
        RenderItem(
            "network_rule.warehouse",
            "network_rule",
            {
                "name": "warehouse",
                "mode": "EGRESS",
                "type": "IPV4",
                "value_list": ["10.20.0.0/16", "192.168.1.7:5432"],
            },
        ),
        RenderItem(
            "network_rule.any_https",
            "network_rule",
            {"name": "any_https", "mode": "EGRESS", "type": "HOST_PORT", "value_list": ["0.0.0.0:443"]},
        ),
        RenderItem(
            "external_access_integration.data",
            "external_access_integration",
            {"name": "data", "allowed_network_rules": ["pypi", "warehouse"], "enabled": True},
        ),
        RenderItem(
            "external_access_integration.web",
            "external_access_integration",
            {"name": "web", "allowed_network_rules": ["any_https"], "enabled": True},
        ),
        RenderItem(
            "training.forecast",
            "training",
            {
                "name": "forecast",
                "compute_pool": "cpu",
                "framework": "xgboost",
                "dataset": {"train": {"source": "s3://acme/train.parquet", "label_col": "y"}},
                "params": {"max_depth": 6, "eta": 0.1},
                "num_boost_round": 50,
                "scaling": {"num_nodes": 2, "num_workers_per_node": 1, "num_cpus_per_worker": 2},
                "external_access_integrations": ["data"],
                "artifact_location": "s3://acme/models",
                "retrain_on": "inputs",
                "timeouts": {"create": 3600},
            },
        ),
        RenderItem(
            "training.vision",
            "training",
            {
                "name": "vision",
                "compute_pool": "gpu_pool",
                "framework": "pytorch",
                "entrypoint": "train:main",
                "scaling": {"num_nodes": 1, "num_workers_per_node": 1, "use_gpu": True},
            },
        ),
        RenderItem(
            "service.forecast_api",
            "service",
            {
                "name": "forecast_api",
                "compute_pool": "cpu",
                "model": "s3://acme/models/forecast/run1",
                "functions": ["predict"],
                "ingress_enabled": True,
                "gpu_requests": 0,
                "max_instances": 2,
                "max_queue": 32,
                "num_workers": 7,  # the engine's default: 2 x 3 vCPU (CPU_X64_S) + 1
                "max_batch_rows": 1000,
                "max_request_bytes": 8388608,
                "suspended": False,
                "image_repository": "models",
                "external_access_integrations": ["web"],
            },
        ),
        RenderItem(
            "service.vision_api",
            "service",
            {
                "name": "vision_api",
                "compute_pool": "gpu_pool",
                "model": "gs://acme/vision",
                "gpu_requests": 1,
                "num_workers": 1,  # the engine's default with GPUs
                "max_queue": 64,  # as written (the engine's default would be 4 x num_workers)
                "functions": ["predict"],  # the schema's default
                "max_instances": 1,
                "suspended": True,
            },
        ),
    ]
