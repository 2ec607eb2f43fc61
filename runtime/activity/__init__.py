"""Activity logs: what each agent run did (the seed's ``activity_logs``)."""
