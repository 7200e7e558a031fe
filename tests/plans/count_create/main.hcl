mlrt {
  default_provider = "test"
}

network_rule "r" {
  count      = 3
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["h${count.index}.example.com:443"]
}
