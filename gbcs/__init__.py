"""gbcs package."""
