"""CRM connections: a workspace's CRM credentials, sealed at rest with rotatable keys."""
