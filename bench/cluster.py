"""A local Ray cluster of the benchmark's own, and the workspace actor's environment on it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["actor_env", "actor_errors", "local_ray"]

_LOG_LINES = 40


@contextmanager
def local_ray(temp_dir: Path, *, dashboard: bool = False) -> Iterator[None]:
    """A fresh local cluster (never a stale one), its session files under ``temp_dir``.

    Shutting it down ends every process it started, the detached workspace actor too.
    ``dashboard``: start Ray's dashboard (on localhost), which serves Ray's state API
    (``ray.util.state``); it costs a dozen processes and a few hundred MiB.
    """
    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=dashboard,
        log_to_driver=False,
        configure_logging=False,
        _temp_dir=str(temp_dir),
    )
    try:
        yield
    finally:
        ray.shutdown()


def actor_env(*, dsn: str, home: Path, key: bytes, flush_interval_s: float) -> dict[str, str]:
    """The settings the workspace actor's process reads (the product's, except these)."""
    return {
        "DATABASE_URL": dsn,
        "CRM_AGENTS_HOME": str(home),
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": "bench:" + base64.urlsafe_b64encode(key).decode(),
        "CRM_AGENTS_WRITES__FLUSH_INTERVAL_S": str(flush_interval_s),
        "CRM_AGENTS_LOG_LEVEL": "WARNING",
    }


def actor_errors(temp_dir: Path) -> str:
    """The end of the newest worker log holding a traceback (the actor's, usually), or ""."""
    logs = sorted(
        (
            path
            for path in temp_dir.glob("session_*/logs/worker-*.err")
            if "Traceback" in path.read_text(errors="replace")
        ),
        key=lambda path: path.stat().st_mtime,
    )
    if not logs:
        return ""
    tail = logs[-1].read_text(errors="replace").splitlines()[-_LOG_LINES:]
    return f"\n{logs[-1].name} ends with:\n" + "\n".join(tail)
