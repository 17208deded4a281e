"""group coordinators: staff assign coordinators to the groups they run

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_coordinators",
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_coordinators_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_group_coordinators_membership_id_memberships"),
        ),
        sa.PrimaryKeyConstraint("group_id", "membership_id", name=op.f("pk_group_coordinators")),
    )
    op.create_index(
        op.f("ix_group_coordinators_membership_id"), "group_coordinators", ["membership_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_group_coordinators_membership_id"), table_name="group_coordinators")
    op.drop_table("group_coordinators")
