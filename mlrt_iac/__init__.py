"""mlrt: a declarative, Terraform-style tool for ML infrastructure."""

from typing import Any


def __getattr__(name: str) -> Any:
    # Read lazily: package metadata costs milliseconds that `import mlrt_iac.runtime` inside a
    # worker should not pay unless it asks.
    if name == "__version__":
        from .version import mlrt_version

        return mlrt_version()
    raise AttributeError(f"module 'mlrt_iac' has no attribute {name!r}")
