"""The serving attacks run against real server processes: the serving tests' fixtures."""

from tests.unit.serving.conftest import start_server, xgb_model  # noqa: F401
