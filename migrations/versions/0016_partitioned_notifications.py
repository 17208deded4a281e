"""partitioned notifications: the outbox by month of due_at on PostgreSQL

On PostgreSQL the table is rebuilt as PARTITION BY RANGE (due_at), with a partition for
every month that holds a row and for the previous, this and the next MONTHS_AHEAD months
(api/notifications/partitions.py); the rows are copied in one transaction, so run it in a
maintenance window on a large outbox (docs/operations.md, "Partitions"). The primary key
becomes (id, due_at) on both databases: PostgreSQL requires the partition key in it, and
SQLite keeps the same key on its plain table.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from api.notifications.partitions import Month, window

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLE = "notifications"
OLD = "notifications_unpartitioned"
UNIQUE = ("uq_notifications_user_id_kind_subject_due_at", ["user_id", "kind", "subject", "due_at"])
FOREIGN_KEYS = (
    ("fk_notifications_user_id_users", "users", "user_id"),
    ("fk_notifications_graduate_id_graduates", "graduates", "graduate_id"),
    ("fk_notifications_taken_by_user_id_users", "users", "taken_by_user_id"),
)
INDEXES = (
    ("ix_notifications_graduate_id", ["graduate_id"]),
    ("ix_notifications_status_priority_next_attempt_at", ["status", "priority", "next_attempt_at"]),
    ("ix_notifications_user_id_collapse_key_due_at", ["user_id", "collapse_key", "due_at"]),
    ("ix_notifications_user_id_due_at", ["user_id", "due_at"]),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _primary_key_on_sqlite(["id", "due_at"])
        return
    op.rename_table(TABLE, OLD)
    _drop_keys_and_indexes(OLD)
    op.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (due_at)")
    months = {
        Month.of(start)
        for start in op.get_bind().scalars(
            sa.text(f"SELECT DISTINCT date_trunc('month', due_at, 'UTC') FROM {OLD}")
        )
    }
    for month in sorted(months | set(window(datetime.now(UTC), behind=1))):
        op.execute(f"CREATE TABLE {month.name} PARTITION OF {TABLE} FOR VALUES {month.bounds}")
    # Keys and indexes after the copy: building them once is far cheaper than row by row.
    op.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
    op.drop_table(OLD)
    _add_keys_and_indexes(["id", "due_at"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _primary_key_on_sqlite(["id"])
        return
    op.execute(f"CREATE TABLE {OLD} (LIKE {TABLE} INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {OLD} SELECT * FROM {TABLE}")
    op.drop_table(TABLE)  # and every partition with it
    op.rename_table(OLD, TABLE)
    _add_keys_and_indexes(["id"])


def _drop_keys_and_indexes(table: str) -> None:
    """Frees the names for the new table (the old one goes once copied)."""
    for name, _ in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_constraint(UNIQUE[0], table, type_="unique")
    op.drop_constraint("pk_notifications", table, type_="primary")


def _add_keys_and_indexes(primary_key: list[str]) -> None:
    op.create_primary_key("pk_notifications", TABLE, primary_key)
    op.create_unique_constraint(UNIQUE[0], TABLE, UNIQUE[1])
    for name, referred, column in FOREIGN_KEYS:
        op.create_foreign_key(name, TABLE, referred, [column], ["id"])
    for name, columns in INDEXES:
        op.create_index(name, TABLE, columns)


def _primary_key_on_sqlite(columns: list[str]) -> None:
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        batch.drop_constraint("pk_notifications", type_="primary")
        batch.create_primary_key("pk_notifications", columns)
