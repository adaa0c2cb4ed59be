"""Connectors: one module per tool, registered by source type (see registry.py)."""
