mlrt {
  default_provider = "test"
}

module "m" {
  source = "./modules/team"
  team   = "m"
  host   = "h.example.com:443"
}

module "n" {
  source = "./modules/team"
  team   = "n"
  host   = "h.example.com:443"
}
