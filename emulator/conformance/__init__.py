"""Conformance harness: RTDS command/response cases and response-shape comparison."""
