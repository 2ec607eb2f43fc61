"""The human side: inbox items and the per-field proposals they hold."""
