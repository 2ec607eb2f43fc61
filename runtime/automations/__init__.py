"""User automations: a trigger on the owner's events and an action, owner-scoped."""
