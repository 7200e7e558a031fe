variable "team" {
  type = string
}

network_rule "egress" {
  name       = "${var.team}-egress"
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = ["${var.team}.example.com:443"]
}

output "rule_name" {
  value = network_rule.egress.name
}
