"""Thin Ray shells over runtime objects (workspace, executor and anomaly actors).

Everything in here wraps a plain class from ``runtime``; ``ray.remote`` and every actor
option live in one module, so tests can build the plain classes directly.
"""
