mlrt {
  default_provider = "test"
}

network_rule "a" {
  mode       = "INGRESS"
  type       = "HOST_PORT"
  value_list = ["h.example.com:443"]

  lifecycle {
    prevent_destroy = true
  }
}

