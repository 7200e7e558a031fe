"""mlrt: a declarative, Terraform-style tool for ML infrastructure."""

__version__ = "0.1.0"
