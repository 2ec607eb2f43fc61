"""GraphQL types and operations, one module per area; ``runtime.api.schema`` merges them."""
