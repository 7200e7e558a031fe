mlrt {
  default_provider = "test"
}

network_rule "a" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["h.example.com:443"]
}

network_rule "b" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["h.example.com:443"]
}

external_access_integration "e" {
  allowed_network_rules = [network_rule.a]
}

