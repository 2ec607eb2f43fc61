"""The evaluation ruler and runner behind ``crm-agents eval``: corpus, scoring, offline run."""
