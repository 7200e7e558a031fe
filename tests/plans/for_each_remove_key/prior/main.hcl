mlrt {
  default_provider = "test"
}

network_rule "r" {
  for_each   = { a = "a.example.com:443", b = "b.example.com:443" }
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = [each.value]
}
