mlrt {
  default_provider = "test"
}

network_rule "r" {
  for_each   = toset(["x", "y"])
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["${each.key}.example.com:443"]
}
