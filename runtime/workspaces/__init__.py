"""Workspaces: the tenant boundary."""
