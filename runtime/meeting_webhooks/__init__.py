"""The meeting webhook: per-workspace signing secrets and signed, replay-safe deliveries."""
