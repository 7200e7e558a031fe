# File header comment
// another style of header

/* a block comment
   that spans
     several lines, kept as written */
network_rule "pypi" { # why this rule exists
  mode = "EGRESS" # outbound only
  type = "HOST_PORT"   // hosts with ports
      # an indented comment line
  value_list = ["pypi.org:443"] /* inline block comment */
  comment = "x"
    /* single-line block comment */
  // trailing slash comment
}
# between blocks

network_rule "any" {
  mode = "EGRESS"
  type = "IPV4"
  value_list = [
    "10.0.0.0/8", # private range
    # a comment inside a list
    "192.168.1.1",   # one host
  ]
}
# comment at end of file
