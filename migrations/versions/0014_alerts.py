"""alerts: a priority lane in the outbox, email channels, working hours, who took an alert

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default="1", nullable=False)
        )
        batch.add_column(sa.Column("taken_by_user_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            "fk_notifications_taken_by_user_id_users", "users", ["taken_by_user_id"], ["id"]
        )
        batch.drop_index("ix_notifications_status_next_attempt_at")
        batch.create_index(
            "ix_notifications_status_priority_next_attempt_at",
            ["status", "priority", "next_attempt_at"],
        )
    with op.batch_alter_table("flags") as batch:
        batch.add_column(sa.Column("alert_status", sa.String(20), nullable=True))
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("working_hours", sa.JSON(), nullable=True))
    op.create_table(
        "email_channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("verified_at", api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_digest", sa.String(64), nullable=True),
        sa.Column("code_expires_at", api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_channels_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_channels")),
        sa.UniqueConstraint("user_id", name=op.f("uq_email_channels_user_id")),
    )


def downgrade() -> None:
    op.drop_table("email_channels")
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("working_hours")
        batch.drop_column("timezone")
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("alert_status")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_status_priority_next_attempt_at")
        batch.create_index("ix_notifications_status_next_attempt_at", ["status", "next_attempt_at"])
        batch.drop_constraint("fk_notifications_taken_by_user_id_users", type_="foreignkey")
        batch.drop_column("taken_by_user_id")
        batch.drop_column("priority")
