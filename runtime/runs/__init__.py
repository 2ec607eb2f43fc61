"""Agent runs: one per (agent config, meeting), queued, claimed, executed, recorded."""
