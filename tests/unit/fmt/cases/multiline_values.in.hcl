training "t" {
  compute_pool = compute_pool.cpu
  framework = "xgboost"
  params = merge(
          var.base_params,
  {
  max_depth = 6
  eta = 0.1
  },
      )
  external_access_integrations = [
external_access_integration.pypi,
      external_access_integration.hf,
  ]
  hyper_params = { for k, v in var.hp :
  k => v if v != null }
  things = [{
  a = 1
  }, {
  b = 2
  }]
  depends_on = [network_rule.a,
    network_rule.b]
}
