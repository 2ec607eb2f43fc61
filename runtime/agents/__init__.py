"""The agent's brain in plain Python: config, templates, extraction, matching, routing,
preview and evaluation. No Ray and no database: everything here is testable alone.
"""
