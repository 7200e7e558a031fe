# A PyTorch regression trained by trainer.py on data/ and served on 127.0.0.1.
# Make the data first: python make_data.py

variable "epochs" {
  type    = number
  default = 5
}

variable "workers" {
  type        = number
  default     = 1
  description = "Training processes; 2 or more train with torch.distributed (gloo), each on its own shard."
}

compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

training "net" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "trainer:train" # the function train in trainer.py

  dataset "train" {
    source    = "data/train.parquet"
    label_col = "y"
  }

  dataset "eval" {
    source    = "data/eval.parquet"
    label_col = "y"
  }

  hyper_params = {
    epochs     = var.epochs
    lr         = 0.01
    batch_size = 256
  }

  scaling {
    num_workers_per_node = var.workers
    num_cpus_per_worker  = 1
  }
}

service "net" {
  compute_pool = compute_pool.cpu
  model        = training.net.model_uri
  model_class  = "net:Net" # the class whose state dict trainer.py saved
  num_workers  = 1
}

output "predict_url" {
  value = service.net.functions_urls["predict"]
}

output "eval_mse" {
  value = training.net.metrics["eval_mse"]
}
