variable "max_depth" {
  type        = number
  default     = 4
  description = "Depth of each boosted tree."

  validation {
    condition     = var.max_depth >= 1 && var.max_depth <= 12
    error_message = "max_depth must be between 1 and 12."
  }
}

variable "learning_rate" {
  type        = number
  default     = 0.3
  description = "XGBoost eta: shrinkage applied to each new tree."
}
