# One team's slice of the platform. Every object is named after the team, so two instances of
# this module never collide in the provider.

locals {
  params = {
    xgboost  = { objective = "binary:logistic", eval_metric = "logloss", max_depth = 4 }
    lightgbm = { objective = "binary", metric = "binary_logloss", num_leaves = 15 }
  }
}

compute_pool "pool" {
  name            = "${var.team}-pool"
  instance_family = var.family
  min_nodes       = 1
  max_nodes       = var.max_nodes
  labels = {
    team = var.team
  }
  comment = "Compute pool of team ${var.team}"
}

network_rule "packages" {
  name       = "${var.team}-packages"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = var.allowed_hosts
}

network_rule "feature_store" {
  name       = "${var.team}-feature-store"
  mode       = "EGRESS"
  type       = "IPV4"
  value_list = [var.feature_store_cidr]
}

external_access_integration "egress" {
  name                  = "${var.team}-egress"
  allowed_network_rules = [network_rule.packages, network_rule.feature_store]
}

training "model" {
  name         = "${var.team}-model"
  compute_pool = compute_pool.pool
  framework    = var.framework

  dataset "train" {
    source    = var.train_data
    label_col = "label"
  }

  dataset "eval" {
    source    = var.eval_data
    label_col = "label"
  }

  params          = local.params[var.framework]
  num_boost_round = 40

  scaling {
    num_nodes            = 1
    num_workers_per_node = 1
    num_cpus_per_worker  = 1
  }

  external_access_integrations = [external_access_integration.egress]
}

service "api" {
  name         = "${var.team}-api"
  compute_pool = compute_pool.pool
  model        = training.model.model_uri
  num_workers  = 1
  max_queue    = 32
}
