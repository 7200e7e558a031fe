locals {
  brace       = "{"
  close_brace = "}}"
  hash        = "# not a comment"
  slashes     = "http://example.com // no comment"
  star        = "/* not a comment */"
  equals      = "a = b"
  quote       = "say \"hi\" = {"
  interp      = "${var.team}-${lookup(var.m, "k}", "#")}"
  escaped     = "$${literal} and %%{ literal }"
  directive   = "%{ if var.on }on%{ else }off%{ endif }"
  nested      = "${ {a = "}"}["a"] }"
  unicode     = "café = ☕"
}
