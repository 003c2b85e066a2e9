"""Integrations with third-party libraries (each an optional extra)."""
