mlrt {
  default_provider = "test"
}

network_rule "a" {
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["a.example.com:443"]

  lifecycle {
    postcondition {
      condition     = self.mode == "INGRESS"
      error_message = "Only ingress rules here."
    }
  }
}
