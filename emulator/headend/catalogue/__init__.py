"""Declarative use-case catalogue (issue 10)."""
