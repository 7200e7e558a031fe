# Quickstart: a CPU pool, an image repository, egress to the Python package index, an XGBoost
# training on the parquet files under data/ and a model service answering predictions on
# loopback. The same files run on Ray with `mlrt { default_provider = "ray" }` added.

compute_pool "cpu" {
  instance_family   = "CPU_X64_S"
  min_nodes         = 1
  max_nodes         = 1
  auto_suspend_secs = 1800
  comment           = "Quickstart pool: one small CPU node"
}

# Where service images go: an OCI image layout directory under .mlrt/ on the local and ray
# providers, a registry on kubernetes. The service below does not name it, so nothing is built
# here: a local service runs on this machine's Python. Add `image_repository =
# image_repository.models` to the service (and a build_external_access_integration that allows
# the package index) to build its image too, as Snowflake's create_service does: the first
# build installs XGBoost and mlrt's runtime for the image (about 640 MB, a minute or more).
image_repository "models" {
  comment = "Images of the quickstart's model service"
}

# Package downloads for the training environment.
network_rule "pypi" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["pypi.org:443", "files.pythonhosted.org:443"]
}

# An internal artifact store, addressed by network range.
network_rule "artifacts" {
  mode       = "EGRESS"
  type       = "IPV4"
  value_list = ["10.20.0.0/16"]
}

external_access_integration "training_egress" {
  allowed_network_rules = [network_rule.pypi, network_rule.artifacts]
  enabled               = true
}

training "churn" {
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

  params = {
    objective   = "binary:logistic"
    eval_metric = "logloss"
    max_depth   = var.max_depth
    eta         = var.learning_rate
    tree_method = "hist"
  }
  num_boost_round = 50

  scaling {
    num_nodes            = 1
    num_workers_per_node = 1
    num_cpus_per_worker  = 1
  }

  external_access_integrations = [external_access_integration.training_egress]
}

service "churn" {
  compute_pool = compute_pool.cpu
  model        = training.churn.model_uri
  functions    = ["predict"]
  num_workers  = 2
  max_queue    = 64
}
