"""Workspace metrics: per-minute counters of what the agents did, for the data team.

windows.py    parse_window: ``15m``, ``1h``, ``7d`` to seconds, capped at ``MAX_WINDOW_S``
models.py     MinuteCounts (one minute's counters, as loaded), WindowTotals
queries.sql   the per-minute aggregate over activity, proposal and outbox rows
repo.py       MetricsRepo: the only module that runs that SQL
book.py       MetricsBook: a workspace's minutes in memory, past minutes loaded once;
              frames (Polars) and their totals
service.py    a book that loads from Postgres; one-off frames (the CLI)

Each event counts at the minute it happened: a run when its activity row was written, a
field when its proposal was, a decision when it was made, a write when the CRM answered.
So a minute in the past is final (see ``book.py`` for the one exception) and a workspace's
memory only has to reload its last minutes.
"""
