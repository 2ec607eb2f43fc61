"""The write outbox: every CRM write is a row before it is sent."""
