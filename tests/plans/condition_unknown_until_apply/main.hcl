mlrt {
  default_provider = "test"
}

network_rule "a" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["h.example.com:443"]
}

external_access_integration "e" {
  allowed_network_rules = [network_rule.a]

  lifecycle {
    postcondition {
      condition     = self.effective_egress != null
      error_message = "No egress resolved."
    }
  }
}

network_rule "b" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["i.example.com:443"]

  lifecycle {
    precondition {
      condition     = length(external_access_integration.e.effective_egress) > 0
      error_message = "The integration allows nothing."
    }
  }
}
