compute_pool "cpu" {
  instance_family = "CPU_X64_S"
  min_nodes = 1
  max_nodes = 3

  auto_suspend_secs = 600
  auto_resume = true
  # a comment line ends the run
  labels = {
    team = "a"
    cost_center = "ml"
  }
  initially_suspended = false
  comment = "one-line map ends nothing"
  x = { a = 1 }
  scale_timeout_secs = 720
}
