"""Shared fixtures: the real-broker fixtures of tests/brokers.py for every test file."""

pytest_plugins = ["tests.brokers"]
