"""reminder planning: the planner visits only graduates whose reminders may have changed

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import api.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)  # api.reminders.visits.AT_ONCE


def upgrade() -> None:
    planning = op.create_table(
        "reminder_planning",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["graduate_id"],
            ["graduates.id"],
            name=op.f("fk_reminder_planning_graduate_id_graduates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("graduate_id", name=op.f("pk_reminder_planning")),
    )
    op.create_index(op.f("ix_reminder_planning_due_at"), "reminder_planning", ["due_at"])
    # Every enrolled graduate is due at once: the first run plans them all, as before.
    graduates = sa.table("graduates", sa.column("id", sa.Uuid()), sa.column("user_id", sa.Uuid()))
    op.execute(
        planning.insert().from_select(
            ["graduate_id", "due_at", "changes"],
            sa.select(
                graduates.c.id,
                sa.literal(AT_ONCE, api.db.UTCDateTime(timezone=True)),
                sa.literal(0),
            ).where(graduates.c.user_id.is_not(None)),
        )
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reminder_planning_due_at"), table_name="reminder_planning")
    op.drop_table("reminder_planning")
