from __future__ import annotations

from runtime.db.dsn import redact, with_database


def test_with_database_keeps_server_and_socket_directory() -> None:
    dsn = "postgresql://postgres:@/postgres?host=/tmp/x/pgdata"
    assert with_database(dsn, "t_1") == "postgresql://postgres:@/t_1?host=/tmp/x/pgdata"


def test_with_database_on_a_tcp_dsn() -> None:
    assert (
        with_database("postgresql://u:p@db.example:5432/app?sslmode=require", "other")
        == "postgresql://u:p@db.example:5432/other?sslmode=require"
    )


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://postgres:@/db?host=/x") == "postgresql://postgres:@/db?host=/x"
