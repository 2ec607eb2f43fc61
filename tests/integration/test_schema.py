"""`crm-agents migrate` creates the seed's tables exactly: read back from the catalog."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

# (column, type as information_schema spells it, length/precision, nullable, default)
# transcribed from the seed spec, not from our migration files.
SEED_COLUMNS: dict[str, list[tuple[str, str, Any, bool, str | None]]] = {
    "agent_configs": [
        ("id", "uuid", None, False, "gen_random_uuid()"),
        ("workspace_id", "uuid", None, False, None),
        ("created_by", "uuid", None, False, None),
        ("name", "character varying", 255, False, None),
        ("crm_type", "character varying", 50, False, None),
        ("call_type", "character varying", 100, True, None),
        ("config", "jsonb", None, False, None),
        ("status", "character varying", 50, True, "'draft'::character varying"),
        ("is_template", "boolean", None, True, "false"),
        ("created_at", "timestamp with time zone", None, True, "now()"),
        ("updated_at", "timestamp with time zone", None, True, "now()"),
    ],
    "activity_logs": [
        ("id", "uuid", None, False, "gen_random_uuid()"),
        ("workspace_id", "uuid", None, False, None),
        ("agent_config_id", "uuid", None, True, None),
        ("user_id", "uuid", None, True, None),
        ("meeting_id", "uuid", None, True, None),
        ("crm_record_id", "character varying", 255, True, None),
        ("crm_record_type", "character varying", 50, True, None),
        ("action_type", "character varying", 50, False, None),
        ("fields_updated", "jsonb", None, True, None),
        ("overall_confidence", "numeric", (3, 2), True, None),
        ("status", "character varying", 50, True, "'pending'::character varying"),
        ("error_message", "text", None, True, None),
        ("created_at", "timestamp with time zone", None, True, "now()"),
    ],
    "inbox_items": [
        ("id", "uuid", None, False, "gen_random_uuid()"),
        ("workspace_id", "uuid", None, False, None),
        ("user_id", "uuid", None, False, None),
        ("activity_log_id", "uuid", None, True, None),
        ("item_type", "character varying", 50, False, None),
        ("title", "character varying", 255, False, None),
        ("description", "text", None, True, None),
        ("context", "jsonb", None, True, None),
        ("confidence", "numeric", (3, 2), True, None),
        ("status", "character varying", 50, True, "'pending'::character varying"),
        ("resolved_at", "timestamp with time zone", None, True, None),
        ("resolved_by", "uuid", None, True, None),
        ("created_at", "timestamp with time zone", None, True, "now()"),
    ],
    "anomalies": [
        ("id", "uuid", None, False, "gen_random_uuid()"),
        ("workspace_id", "uuid", None, False, None),
        ("anomaly_type", "character varying", 100, False, None),
        ("severity", "character varying", 50, True, "'warning'::character varying"),
        ("title", "character varying", 255, False, None),
        ("description", "text", None, True, None),
        ("data", "jsonb", None, True, None),
        ("status", "character varying", 50, True, "'active'::character varying"),
        ("acknowledged_by", "uuid", None, True, None),
        ("created_at", "timestamp with time zone", None, True, "now()"),
    ],
    "user_automations": [
        ("id", "uuid", None, False, "gen_random_uuid()"),
        ("workspace_id", "uuid", None, False, None),
        ("user_id", "uuid", None, False, None),
        ("name", "character varying", 255, False, None),
        ("trigger_type", "character varying", 100, False, None),
        ("trigger_config", "jsonb", None, False, None),
        ("action_type", "character varying", 100, False, None),
        ("action_config", "jsonb", None, False, None),
        ("is_active", "boolean", None, True, "true"),
        ("created_at", "timestamp with time zone", None, True, "now()"),
        ("updated_at", "timestamp with time zone", None, True, "now()"),
    ],
    "notification_preferences": [
        ("id", "uuid", None, False, "gen_random_uuid()"),
        ("user_id", "uuid", None, False, None),
        ("channel", "character varying", 50, False, None),
        ("notification_type", "character varying", 100, False, None),
        ("is_enabled", "boolean", None, True, "true"),
        ("frequency", "character varying", 50, True, "'immediate'::character varying"),
    ],
}

# (table, column) -> referenced table, from the seed's REFERENCES clauses.
SEED_FOREIGN_KEYS = {
    ("agent_configs", "workspace_id"): "workspaces",
    ("agent_configs", "created_by"): "users",
    ("activity_logs", "workspace_id"): "workspaces",
    ("activity_logs", "agent_config_id"): "agent_configs",
    ("activity_logs", "user_id"): "users",
    ("activity_logs", "meeting_id"): "meetings",
    ("inbox_items", "workspace_id"): "workspaces",
    ("inbox_items", "user_id"): "users",
    ("inbox_items", "activity_log_id"): "activity_logs",
    ("inbox_items", "resolved_by"): "users",
    ("anomalies", "workspace_id"): "workspaces",
    ("anomalies", "acknowledged_by"): "users",
    ("user_automations", "workspace_id"): "workspaces",
    ("user_automations", "user_id"): "users",
    ("notification_preferences", "user_id"): "users",
}


async def _columns(conn: asyncpg.Connection, table: str) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        """
        SELECT column_name, data_type, character_maximum_length, numeric_precision,
               numeric_scale, is_nullable, column_default
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = $1
        ORDER BY ordinal_position
        """,
        table,
    )
    result = []
    for row in rows:
        size: Any = row["character_maximum_length"]
        if row["data_type"] == "numeric":
            size = (row["numeric_precision"], row["numeric_scale"])
        result.append(
            (
                row["column_name"],
                row["data_type"],
                size,
                row["is_nullable"] == "YES",
                row["column_default"],
            )
        )
    return result


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
async def test_seed_table_has_every_column_type_and_default(pool: asyncpg.Pool, table: str) -> None:
    async with pool.acquire() as conn:
        columns = await _columns(conn, table)
    # Later migrations may add columns, never drop, rename or retype the seed's.
    assert columns[: len(SEED_COLUMNS[table])] == SEED_COLUMNS[table]


async def test_seed_primary_keys_are_the_id_columns(pool: asyncpg.Pool) -> None:
    rows = await pool.fetch(
        """
        SELECT tc.table_name, kcu.column_name
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu
          ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
        WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = ANY($1::text[])
        """,
        list(SEED_COLUMNS),
    )
    assert {(r["table_name"], r["column_name"]) for r in rows} == {
        (table, "id") for table in SEED_COLUMNS
    }


async def test_seed_foreign_keys_reference_the_right_tables(pool: asyncpg.Pool) -> None:
    rows = await pool.fetch(
        """
        SELECT src.relname AS table_name, att.attname AS column_name, dst.relname AS target
        FROM pg_constraint con
        JOIN pg_class src ON src.oid = con.conrelid
        JOIN pg_class dst ON dst.oid = con.confrelid
        JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = ANY(con.conkey)
        WHERE con.contype = 'f' AND src.relname = ANY($1::text[])
        """,
        list(SEED_COLUMNS),
    )
    found = {(r["table_name"], r["column_name"]): r["target"] for r in rows}
    # Later migrations may add columns with keys of their own (activity_logs.agent_run_id);
    # every seed key must stay, pointing where the seed points it.
    assert {key: found.get(key) for key in SEED_FOREIGN_KEYS} == SEED_FOREIGN_KEYS


async def test_seed_indexes_including_the_partial_pending_inbox_index(
    pool: asyncpg.Pool,
) -> None:
    rows = await pool.fetch(
        """
        SELECT i.relname AS name, t.relname AS table_name,
               pg_get_indexdef(ix.indexrelid) AS definition,
               pg_get_expr(ix.indpred, ix.indrelid) AS predicate,
               ix.indisunique AS is_unique
        FROM pg_index ix
        JOIN pg_class i ON i.oid = ix.indexrelid
        JOIN pg_class t ON t.oid = ix.indrelid
        WHERE t.relname = ANY($1::text[]) AND NOT ix.indisprimary
        """,
        list(SEED_COLUMNS),
    )
    indexes = {r["name"]: r for r in rows}
    workspace = indexes["idx_activity_logs_workspace"]
    assert workspace["table_name"] == "activity_logs"
    assert workspace["definition"].endswith("(workspace_id, created_at DESC)")
    user = indexes["idx_activity_logs_user"]
    assert user["definition"].endswith("(user_id, created_at DESC)")
    pending = indexes["idx_inbox_items_user_pending"]
    assert pending["table_name"] == "inbox_items"
    assert "(user_id, status)" in pending["definition"]
    assert pending["predicate"] == "((status)::text = 'pending'::text)"
    unique = [r for r in rows if r["table_name"] == "notification_preferences" and r["is_unique"]]
    assert len(unique) == 1
    assert unique[0]["definition"].endswith("(user_id, channel, notification_type)")


async def test_referenced_tables_exist_with_their_keys(pool: asyncpg.Pool) -> None:
    expected = {
        "workspaces": {"id", "name", "created_at"},
        "users": {"id", "email", "name", "created_at"},
        "workspace_members": {"workspace_id", "user_id", "role", "created_at"},
        "meetings": {
            "id",
            "workspace_id",
            "external_id",
            "title",
            "call_type",
            "started_at",
            "duration_s",
            "owner_email",
            "attendees",
            "transcript",
            "notes",
            "created_at",
        },
        "audit_log": {"id", "workspace_id", "actor_user_id", "action", "details", "created_at"},
    }
    for table, columns in expected.items():
        async with pool.acquire() as conn:
            found = {row[0] for row in await _columns(conn, table)}
        assert columns <= found, table


async def test_membership_roles_are_admin_or_member(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            workspace = await conn.fetchval(
                "INSERT INTO workspaces (name) VALUES ('w') RETURNING id"
            )
            user = await conn.fetchval(
                "INSERT INTO users (email) VALUES ('r@x.example') RETURNING id"
            )
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO workspace_members (workspace_id, user_id, role)"
                    " VALUES ($1, $2, 'owner')",
                    workspace,
                    user,
                )
        finally:
            await transaction.rollback()
