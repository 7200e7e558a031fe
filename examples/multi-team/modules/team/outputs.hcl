output "endpoint" {
  value = service.api.endpoint
}

output "pool" {
  value = compute_pool.pool.name
}

output "model_uri" {
  value = training.model.model_uri
}

output "effective_egress" {
  value = external_access_integration.egress.effective_egress
}
