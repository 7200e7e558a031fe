variable "team" {
  type        = string
  description = "Team name"
  default     = "a"
}

output "endpoint" {
  value = service.api.endpoint
}
