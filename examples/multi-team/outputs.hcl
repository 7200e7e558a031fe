output "endpoints" {
  value       = { for name, team in module.team : name => team.endpoint }
  description = "Prediction endpoint of each team's service."
}

output "pools" {
  value = { for name, team in module.team : name => team.pool }
}

output "model_uris" {
  value = { for name, team in module.team : name => team.model_uri }
}
