mlrt {
default_provider = "local"
    backend "local" {
	path = "state.json"
	      nested {
deep = true
         }
 }
}
module "team" {
      source = "./modules/team"
  for_each = {
        a = { family = "CPU_X64_S" }
  b = { family = "GPU_NV_S" }
      }
}
