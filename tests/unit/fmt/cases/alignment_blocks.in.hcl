training "churn" {
  framework = "xgboost"
  compute_pool = compute_pool.cpu
  dataset "train" {
    source = "data/train.parquet"
    label_col = "label"
  }
  num_boost_round = 50
  lifecycle { prevent_destroy = true }
  retrain_on = "inputs"
  params = [
    "a",
  ]
  image = "x"
}
