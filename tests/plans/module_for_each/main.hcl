mlrt {
  default_provider = "test"
}

module "t" {
  for_each = toset(["a", "b"])
  source   = "./modules/team"
  team     = each.key
}
