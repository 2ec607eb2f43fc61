"""Storage plumbing: where the database is, the pool, named SQL, migrations, error mapping."""

from typing import Any, Protocol

__all__ = ["Executor"]


class Executor(Protocol):
    """What repositories need: an asyncpg Pool or a Connection (inside a transaction)."""

    async def execute(self, query: str, *args: Any) -> str: ...

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any, column: int = 0) -> Any: ...
