"""API tokens: bearer tokens of the GraphQL API, stored as digests."""
