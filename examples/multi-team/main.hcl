# Two teams, one module: each team gets its own compute pool, egress rules, an external access
# integration, a training on the shared data under data/ and a model service.

module "team" {
  source = "./modules/team"
  for_each = {
    recsys = { family = "CPU_X64_S", max_nodes = 2, framework = "xgboost" }
    fraud  = { family = "CPU_X64_M", max_nodes = 3, framework = "lightgbm" }
  }

  team       = each.key
  family     = each.value.family
  max_nodes  = each.value.max_nodes
  framework  = each.value.framework
  train_data = "data/train.parquet"
  eval_data  = "data/eval.parquet"
}
