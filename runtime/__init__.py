"""crm-agents: the product in plain Python (domain logic and I/O adapters, never Ray)."""
