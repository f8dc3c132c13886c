"""The asyncio runtime: clocks, durable state, site hosting, the fleet and its scheduler."""
