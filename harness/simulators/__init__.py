"""Simulated external dependencies (LLM providers) with control APIs for fault injection."""

from harness.simulators.control import ProviderControlClient

__all__ = ["ProviderControlClient"]
