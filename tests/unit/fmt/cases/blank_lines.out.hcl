compute_pool "a" {
  instance_family = "CPU_X64_S"

  max_nodes = 2
}

compute_pool "b" {
  instance_family = "CPU_X64_M"
  labels = {
    a = "1"
  }
}

compute_pool "c" {
  instance_family = "CPU_X64_L"
}

# about d
compute_pool "d" {
  instance_family = "CPU_X64_L"
}
