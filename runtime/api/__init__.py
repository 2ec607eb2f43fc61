"""The GraphQL API: the seed's schema (plus what the flows need) over strawberry.

- ``schema.py`` assembles the schema from one module per area under ``types/``.
- ``context.py``: who is asking (``Principal``) and the checks every resolver makes.
- ``errors.py``: expected failures as GraphQL errors with ``extensions.code``; the rest
  masked and logged.
- ``http.py``: the ASGI app (GraphQL over HTTP and graphql-transport-ws, health) that
  ``serve_app.py`` hosts on Ray Serve and the benchmark also runs on plain uvicorn.
"""
