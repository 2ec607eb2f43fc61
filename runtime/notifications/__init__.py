"""Notifications: each user's preferences per channel and kind (delivery comes later)."""
