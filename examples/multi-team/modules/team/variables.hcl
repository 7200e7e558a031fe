variable "team" {
  type        = string
  description = "Team name; prefixes the name of every object the team owns."

  validation {
    condition     = length(var.team) > 0 && length(var.team) <= 20
    error_message = "team must be 1 to 20 characters long."
  }
}

variable "family" {
  type        = string
  description = "Instance family of the team's compute pool, e.g. CPU_X64_S."
}

variable "max_nodes" {
  type        = number
  default     = 1
  description = "Most nodes the team's pool may scale to."

  validation {
    condition     = var.max_nodes >= 1
    error_message = "max_nodes must be at least 1."
  }
}

variable "framework" {
  type        = string
  default     = "xgboost"
  description = "Boosted-tree framework the team trains with: xgboost or lightgbm."

  validation {
    condition     = contains(["xgboost", "lightgbm"], var.framework)
    error_message = "framework must be \"xgboost\" or \"lightgbm\"."
  }
}

variable "train_data" {
  type        = string
  description = "Training data: a parquet file, directory or glob (relative to the root module)."
}

variable "eval_data" {
  type        = string
  description = "Evaluation data, like train_data."
}

variable "allowed_hosts" {
  type        = list(string)
  default     = ["pypi.org:443", "files.pythonhosted.org:443"]
  description = "host:port entries the team's workloads may reach."
}

variable "feature_store_cidr" {
  type        = string
  default     = "10.40.0.0/16"
  description = "Network range of the shared feature store."
}
