# Two teams, one module: each team gets its own compute pool, egress rules, an external access
# integration, a training on the shared data under data/ and a model service.

variable "size" {
  type        = string
  default     = "small"
  description = "small: each team's pool is one CPU_X64_XS node (1 cpu, 6 GiB; both fit a 2-core, 16 GiB machine). large: recsys on CPU_X64_S up to 2 nodes, fraud on CPU_X64_M up to 3 (9 cpus and 41 GiB for the first node of each)."

  validation {
    condition     = contains(["small", "large"], var.size)
    error_message = "size must be \"small\" or \"large\"."
  }
}

locals {
  sizes = {
    small = {
      recsys = { family = "CPU_X64_XS", max_nodes = 1 }
      fraud  = { family = "CPU_X64_XS", max_nodes = 1 }
    }
    large = {
      recsys = { family = "CPU_X64_S", max_nodes = 2 }
      fraud  = { family = "CPU_X64_M", max_nodes = 3 }
    }
  }
}

module "team" {
  source = "./modules/team"
  for_each = {
    recsys = "xgboost"
    fraud  = "lightgbm"
  }

  team       = each.key
  family     = local.sizes[var.size][each.key].family
  max_nodes  = local.sizes[var.size][each.key].max_nodes
  framework  = each.value
  train_data = "data/train.parquet"
  eval_data  = "data/eval.parquet"
}
