mlrt {
  default_provider = "test"
}

variable "host" {
  type    = string
  default = "default.example.com"
}

network_rule "a" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["${var.host}:443"]
}
