"""CRM access: one port the agent code uses, HubSpot behind it (Salesforce later)."""
