"""Shared fixtures: the real local stack on free ports (see orderbook_platform/testing.py)."""

pytest_plugins = ["orderbook_platform.testing"]
