"""CRM writes: the workspace's rate budget and the outbox writer that spends it.

budget.py     RateBudget: when the next HubSpot call may go (burst, search, daily, 429s)
plan.py       plan_batches: queued outbox rows merged per record, split into batches
writer.py     OutboxWriter: flush (send and record outcomes) and recover (after a crash)
outcome.py    a batch answer read input by input; values compared by meaning
recovery.py   rows left in flight: done when the CRM holds them, else queued again
metered.py    the writer's CRM calls: inside the budget, noted for the audit log
reports.py    FlushReport, RecoveryReport
workspace.py  WorkspaceRuntime: one workspace's live state (agents, budget, writer)
host.py       who keeps the workspaces writing (wake-ups, in-process hosting)
"""
