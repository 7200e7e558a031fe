"""The prose of the generated pages that the code cannot say: what each block is for, its
Snowflake counterpart, a short example, and how each provider realises it (the provider table
of DESIGN.md). Which provider supports which type is not written here: it comes from the
providers' handlers, and a test checks that this table covers exactly those pairs."""

from __future__ import annotations

SUMMARY: dict[str, str] = {
    "compute_pool": "Nodes that trainings and services run on, with a size (`instance_family`), "
    "bounds (`min_nodes`, `max_nodes`), and suspend / resume.",
    "image_repository": "Where images that mlrt builds for workloads are stored.",
    "network_rule": "A list of hosts, ports or address ranges that workloads may reach (EGRESS) "
    "or that may reach them (INGRESS). A rule grants nothing by itself: an "
    "`external_access_integration` does.",
    "external_access_integration": "Grants the EGRESS rules it lists to the trainings and "
    "services that name it.",
    "training": "Trains a model with XGBoost, LightGBM or PyTorch on the pool's nodes and keeps "
    "each run's model as an immutable version. A training runs at apply when it is created and "
    "again when its data, code or parameters change (see `retrain_on`).",
    "service": "Serves a trained model over HTTP in Snowflake's service-function format "
    '(`POST /predict {"data": [[0, 1.5, ...]]}`), with admission control.',
}

SNOWFLAKE: dict[str, str] = {
    "compute_pool": "CREATE COMPUTE POOL; `scale_cluster`, `get_nodes`; ALTER COMPUTE POOL SUSPEND / RESUME",
    "image_repository": "CREATE IMAGE REPOSITORY",
    "network_rule": "CREATE NETWORK RULE",
    "external_access_integration": "CREATE EXTERNAL ACCESS INTEGRATION",
    "training": "ML Jobs, `XGBEstimator`, `LightGBMEstimator`, `PyTorchDistributor`",
    "service": "Model Registry `create_service`",
}

EXAMPLE: dict[str, str] = {
    "compute_pool": """compute_pool "cpu" {
  instance_family   = "CPU_X64_S"
  min_nodes         = 1
  max_nodes         = 2
  auto_suspend_secs = 1800
}""",
    "image_repository": """image_repository "images" {
  registry = "registry.example.com:5000"
}""",
    "network_rule": """network_rule "pypi" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org:443", "files.pythonhosted.org:443"]
}""",
    "external_access_integration": """external_access_integration "egress" {
  allowed_network_rules = [network_rule.pypi]
}""",
    "training": """training "churn" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "label"
  }
  dataset "eval" {
    source    = "data/eval.parquet"
    label_col = "label"
  }

  params          = { objective = "binary:logistic", max_depth = 6 }
  num_boost_round = 50

  scaling {
    num_workers_per_node = 2
  }
}""",
    "service": """service "churn" {
  compute_pool = compute_pool.cpu
  model        = training.churn.model_uri
  num_workers  = 2
  max_queue    = 64
}""",
}

# (provider, type) -> how that provider realises the type (DESIGN.md's provider table).
HOW: dict[tuple[str, str], str] = {
    ("local", "compute_pool"): "A share of this machine's CPUs, GPUs and memory (from the "
    'family, capped by the machine and the `provider "local"` limits), reserved while the pool '
    "runs and released when it is suspended.",
    ("local", "image_repository"): "An OCI image layout directory that mlrt writes built images "
    "into: a service that names it gets its image built there (pinned by digest), while its "
    "processes run on this machine.",
    ("local", "network_rule"): "Recorded; workloads get the effective egress list in their "
    "environment. Not enforced (the plan says so).",
    ("local", "external_access_integration"): "Recorded; `effective_egress` is the resolved "
    "host:port list workloads are told about.",
    ("local", "training"): "Worker subprocesses running the framework on the data connector; "
    "PyTorch with `torch.distributed` (gloo) over several processes.",
    ("local", "service"): "`max_instances` inference server processes sharing one port on "
    "127.0.0.1; rolling updates without failed requests.",
    ("ray", "compute_pool"): 'A Ray cluster: attached by `address` in the `provider "ray"` '
    "block, or started with `ray start` on this machine; scaling adds or removes worker nodes.",
    ("ray", "image_repository"): "An OCI image layout directory as on local, or, for a `registry` "
    "that names a host, a registry repository that service images are pushed to. Jobs and Serve "
    "applications carry their code in `runtime_env` (`py_modules`, `working_dir`, `pip`).",
    ("ray", "network_rule"): "Recorded; passed to jobs as `runtime_env` environment variables.",
    ("ray", "external_access_integration"): "Recorded; passed to jobs as `runtime_env` "
    "environment variables.",
    ("ray", "training"): "A Ray Job running Ray Train (`XGBoostTrainer`, `LightGBMTrainer`, "
    "`TorchTrainer`) with a `ScalingConfig` from the `scaling` block.",
    ("ray", "service"): "A Ray Serve application (`num_replicas` = max_instances, "
    "`max_ongoing_requests`, `max_queued_requests` from max_queue).",
    ("kubernetes", "compute_pool"): "A Namespace with a ResourceQuota and a KubeRay `RayCluster` "
    "(worker group replicas between min and max nodes, autoscaling; suspend is `spec.suspend`).",
    ("kubernetes", "image_repository"): "A real registry (OCI distribution API) and a pull secret; "
    "a service that names it gets its image built and pushed there, and runs it by digest.",
    ("kubernetes", "network_rule"): "NetworkPolicies: every workload is default-deny egress (DNS "
    "allowed); IPV4 rules become ipBlocks, `0.0.0.0:PORT` any destination on PORT, HOST_PORT "
    '`CiliumNetworkPolicy` toFQDNs when `fqdn_policies = "cilium"`.',
    ("kubernetes", "external_access_integration"): "Adds the allows of its rules to the "
    "NetworkPolicies of the workloads that name it.",
    ("kubernetes", "training"): "A KubeRay `RayJob` with its own `rayClusterSpec` (one cluster per "
    "run, in the pool's namespace and quota).",
    ("kubernetes", "service"): "A Deployment and a Service (and an Ingress with host, TLS and "
    "token auth when `ingress_enabled`).",
}

# What a change kind means, for the legend under each table.
CHANGE_LEGEND = (
    "*in place*: `~ update in-place`; *replaces*: `-/+ destroy and then create replacement` "
    "(`# forces replacement`); *new run*: an update in place that runs the training again and "
    "writes a new model version (services using `model_uri` roll to it); *creation only*: read "
    "when the object is created, never a change afterwards."
)
