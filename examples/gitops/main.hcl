# GitOps on Kubernetes: a KubeRay pool, egress rules, an XGBoost training as a RayJob and a model
# service as a Deployment. `mlrt render -out manifests/` writes what Argo CD or Flux would sync;
# `mlrt apply` applies the same objects directly with server-side apply.

mlrt {
  default_provider = "kubernetes"

  backend "kubernetes" {
    namespace     = "mlrt-system"
    secret_suffix = "gitops"
  }
}

provider "kubernetes" {
  fqdn_policies = "cilium"
  artifact_root = "s3://acme-ml-artifacts/gitops"
  ingress_class = "nginx"
}

compute_pool "cpu" {
  instance_family   = "CPU_X64_M"
  min_nodes         = 1
  max_nodes         = 4
  active_nodes      = 2
  auto_suspend_secs = 1800
  comment           = "Shared CPU pool (a KubeRay RayCluster that autoscales 1-4 workers)"
}

network_rule "pypi" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org:443", "files.pythonhosted.org:443"]
}

network_rule "warehouse" {
  mode       = "EGRESS"
  type       = "IPV4"
  value_list = ["10.40.0.0/16"]
}

external_access_integration "training_egress" {
  allowed_network_rules = [network_rule.pypi, network_rule.warehouse]
  enabled               = true
}

training "demand" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "s3://acme-ml-data/demand/train/"
    label_col = "units"
  }

  params = {
    objective = "reg:squarederror"
    max_depth = 6
    eta       = 0.1
  }
  num_boost_round = 200

  scaling {
    num_nodes            = 2
    num_workers_per_node = 1
    num_cpus_per_worker  = 4
  }

  external_access_integrations = [external_access_integration.training_egress]
  artifact_location            = "s3://acme-ml-artifacts/gitops/models"

  timeouts {
    create = "2h"
  }
}

service "demand" {
  compute_pool    = compute_pool.cpu
  model           = training.demand.model_uri
  functions       = ["predict"]
  max_instances   = 2
  max_queue       = 64
  ingress_enabled = true
}

output "endpoint" {
  value = service.demand.endpoint
}
