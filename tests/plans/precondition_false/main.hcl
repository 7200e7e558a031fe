mlrt {
  default_provider = "test"
}

variable "hosts" {
  default = ["a.example.com:443", "b.example.com:443", "c.example.com:443"]
}

network_rule "a" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = var.hosts

  lifecycle {
    precondition {
      condition     = length(var.hosts) <= 2
      error_message = "At most two hosts, got ${length(var.hosts)}."
    }
  }
}
