"""The garbage collector of a process that serves the API.

A request's objects end in a reference cycle (graphql-core's executor refers to itself
through its helpers and holds the request's context, loaders and rows), so the cyclic
collector frees them, not reference counting; those still in use when a young collection
runs (the request in flight) move on to the older generations. A full collection then
walks every object the process holds, and a serving process holds hundreds of thousands
from start-up (modules, the schema, strawberry's and pydantic's types; Ray's too when
Serve hosts it): with them, one request in every fifty or so waited 90 to 250 ms for a
full collection (``python -m bench.api``).

So once the app is built and connected, what survives a collection is frozen: the
collector no longer walks it, and a full collection walks only what came since (a few ms).

The thresholds stay CPython's (700, 10, 10); measured with the start-up frozen, larger
ones were worse: a larger first threshold makes each young collection longer (it runs less
often but within some request all the same), and a larger last one lets garbage pile up
in the oldest generation until one long collection instead of several short ones.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects", "unfreeze"]


def freeze_startup_objects() -> None:
    """Collect what start-up left behind, then keep the collector off everything alive."""
    gc.collect()
    gc.freeze()


def unfreeze() -> None:
    """Give the frozen objects back to the collector (an app stopping in a process that
    goes on, such as a test run's)."""
    gc.unfreeze()
