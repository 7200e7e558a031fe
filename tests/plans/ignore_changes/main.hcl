mlrt {
  default_provider = "test"
}

network_rule "a" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["new.example.com:443"]

  lifecycle {
    ignore_changes = [value_list]
  }
}

