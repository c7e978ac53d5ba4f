"""Measuring what the adapters learned (no model weights needed beyond our own)."""
