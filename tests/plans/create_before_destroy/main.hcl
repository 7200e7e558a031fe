mlrt {
  default_provider = "test"
}

network_rule "a" {
  name       = "a-renamed"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["h.example.com:443"]

  lifecycle {
    create_before_destroy = true
  }
}

