mlrt {
  default_provider = "test"
}

module "a" {
  source = "./modules/team"
  team   = "a"
}
