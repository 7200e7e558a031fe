output "endpoint" {
  value       = service.churn.endpoint
  description = "Base URL of the prediction service (POST /predict)."
}

output "metrics" {
  value       = training.churn.metrics
  description = "Metrics the training reported, such as the eval set's logloss."
}

output "model_uri" {
  value       = training.churn.model_uri
  description = "Where the trained XGBoost model is stored."
}
