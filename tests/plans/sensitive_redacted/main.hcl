mlrt {
  default_provider = "test"
}

variable "secret_host" {
  type      = string
  default   = "hidden.example.com"
  sensitive = true
}

network_rule "a" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = [var.secret_host]
}
