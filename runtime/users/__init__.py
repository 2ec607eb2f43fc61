"""Users and their membership (with a role) in workspaces."""
