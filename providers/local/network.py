"""`network_rule` and `external_access_integration` on the local provider: recorded grants under
`<data_dir>/network/` (the handlers are the kit's, `providers.kit.network`)."""

from __future__ import annotations

from providers.kit.network import ExternalAccessIntegrationHandler, NetworkRuleHandler

__all__ = ["ExternalAccessIntegrationHandler", "NetworkRuleHandler"]
