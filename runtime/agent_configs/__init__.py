"""Agent configs in the database: a workspace's agents and its copies of the built-in templates."""
