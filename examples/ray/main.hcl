# The quickstart on Ray: the pool is a Ray cluster mlrt starts on this machine (`ray start`),
# the training is a Ray Job running Ray Train's XGBoostTrainer with 2 workers, and the service
# is a Ray Serve application answering like the local inference server.

mlrt {
  default_provider = "ray"
}

# No address (the default): each compute pool starts and manages its own local cluster. To use
# a running cluster instead, -var ray_address=http://HEAD:8265 (its dashboard URL) or "auto".
provider "ray" {
  address      = var.ray_address
  serve_port   = var.serve_port
  replica_cpus = 0.5
  overcommit   = 2 # nodes = 2 on a 2-core machine: two nodes share its cores
}

compute_pool "cpu" {
  instance_family = "CPU_X64_S"
  min_nodes       = 1
  max_nodes       = 2
  active_nodes    = var.nodes
}

network_rule "pypi" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org:443", "files.pythonhosted.org:443"]
}

external_access_integration "training_egress" {
  allowed_network_rules = [network_rule.pypi]
}

training "churn" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"

  dataset "train" {
    source    = "../quickstart/data/train.parquet"
    label_col = "label"
  }

  dataset "eval" {
    source    = "../quickstart/data/eval.parquet"
    label_col = "label"
  }

  params = {
    objective   = "binary:logistic"
    eval_metric = "logloss"
    max_depth   = 4
    tree_method = "hist"
  }
  num_boost_round = var.rounds

  scaling {
    num_nodes            = 1
    num_workers_per_node = var.workers
    num_cpus_per_worker  = 1
  }

  external_access_integrations = [external_access_integration.training_egress]
}

service "churn" {
  compute_pool  = compute_pool.cpu
  model         = training.churn.model_uri
  functions     = ["predict"]
  max_instances = 1
  num_workers   = 2
  max_queue     = 64
}

variable "ray_address" {
  type        = string
  default     = null
  description = "Dashboard URL of a running Ray cluster to use (or \"auto\"); null starts one per pool."
}

variable "serve_port" {
  type        = number
  default     = 8000
  description = "HTTP port of Ray Serve when mlrt starts Serve on a running cluster."
}

variable "rounds" {
  type        = number
  default     = 50
  description = "Boosting rounds of the training."
}

variable "workers" {
  type        = number
  default     = 2
  description = "Ray Train workers of the training, one cpu each."
}

variable "nodes" {
  type        = number
  default     = 1
  description = "Ray nodes of the pool (1 or 2): the head, plus one worker node."
}

output "endpoint" {
  value       = service.churn.endpoint
  description = "Base URL of the Serve application (POST /predict)."
}

output "metrics" {
  value = training.churn.metrics
}

output "ray_dashboard" {
  value       = compute_pool.cpu.address
  description = "The Ray dashboard of the pool's cluster."
}

output "nodes" {
  value = compute_pool.cpu.nodes
}
