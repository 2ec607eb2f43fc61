"""Meetings: what the agent reads (spec/meetings-and-corpus.md section 1)."""
