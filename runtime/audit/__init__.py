"""The audit log: who did what to which object (every CRM call, every human decision)."""
