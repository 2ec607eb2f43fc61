"""The demo: a HubSpot account, a workspace with an active agent, and meetings to feed it.

``crm-agents demo`` (``runtime/cli/demo.py``) runs the HubSpot emulator on the account of
``account.py``, seeds the workspace (``seed.py``) and has ``feed.py`` send the sample
meetings of ``meetings.py`` through the signed meeting webhook (``sender.py``), reporting
what the agent did with each. Plain Python: no Ray.
"""
