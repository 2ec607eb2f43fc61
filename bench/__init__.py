"""Benchmarks: measurements of the product against local stand-ins, each with its baseline.

Each benchmark is a module run with ``python -m``, self-contained (it starts and stops its
own PostgreSQL, emulator and Ray), prints a table or, with ``--json``, one JSON object, and
exits 0 when it measured (goals met or not) and 1 when the run broke. ``--quick`` runs small
sizes for CI, and its figures say ``"mode": "quick"``.

On this project's machines run them through the loopback-only namespace, as the tests are
(Ray otherwise binds every interface; see ../shared/reference/runtime-notes.md)::

    ../shared/tools/loopback-only .venv/bin/python -m bench.budget [--json] [--quick]

``bench.budget``  the workspace actor draining a backlog of field updates against the HubSpot
                  emulator's real limits (190 calls per 10 s) and latency: records per
                  request, share of the limit, 429s, and the ratio to HubSpot's SDK writing
                  one record per request. Needs the test extra (hubspot-api-client).
``bench.throughput``  meetings per second through the agent pipeline on Ray and in one
                  asyncio process, and the latency from a stored meeting to its proposals.
``bench.tenancy`` a thousand workspaces with traffic, at most 20 active at a time: live
                  actors, memory per active workspace, the cost of an idle one.
``bench.api``     the GraphQL API's reads over 1M activity rows and 200k inbox items, in
                  process and over HTTP on Ray Serve against plain uvicorn.
``bench.live``    an activity row inserted by another process to each of 100, then 1,000
                  websocket subscribers of ``activityLogCreated``: p50/p99, lost deliveries.
"""
