"""Composition root of the HTTP side: the API app (``runtime.api.http``) on Ray Serve.

``build_serve_app`` wraps the app in one ingress deployment whose replicas each build the
app themselves (Serve needs a builder: an app object built in the driver and pickled answers
422 to every query, see the runtime notes). ``crm-agents serve`` runs it; so does
``serve run serve_app:app``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from runtime.api.http import build_api_app
from runtime.settings import Settings

__all__ = ["app", "build_http_app", "build_serve_app"]


def build_http_app(settings: Settings) -> FastAPI:
    """The product's HTTP surface: GraphQL at /graphql, health at /healthz."""
    return build_api_app(settings)


def build_serve_app(settings: Settings) -> Any:
    """The Serve application: one ingress deployment around ``build_http_app``."""
    from ray import serve

    class HttpIngress:
        """Serve replica hosting the HTTP app (built inside the replica, not the driver)."""

    ingress = serve.ingress(lambda: build_http_app(settings))(HttpIngress)
    deployment = serve.deployment(
        name="http",
        num_replicas=settings.api.replicas,
        max_ongoing_requests=settings.api.max_ongoing_requests,
    )(ingress)
    return deployment.bind()


def app(args: dict[str, str]) -> Any:
    """Application builder for ``serve run serve_app:app`` (settings from the environment)."""
    return build_serve_app(Settings())
