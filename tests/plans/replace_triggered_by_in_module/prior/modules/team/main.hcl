variable "team" {
  type = string
}

variable "host" {
  type = string
}

network_rule "a" {
  name       = "${var.team}-a"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = [var.host]
}

network_rule "b" {
  name       = "${var.team}-b"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["h.example.com:443"]

  lifecycle {
    replace_triggered_by = [network_rule.a]
  }
}
