"""Shared API clients for providers and state backends.

A state backend must not import a provider (nor a provider a backend), yet both may talk to the
same service: the client lives here, between them. Modules in this package import nothing of
mlrt but `mlrt_iac.errors`, so either side can use them without pulling in the other.
"""
