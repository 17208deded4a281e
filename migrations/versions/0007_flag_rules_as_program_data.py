"""flag rules as program data

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flag_rule_versions",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("changed_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by_user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_user_id"],
            ["users.id"],
            name=op.f("fk_flag_rule_versions_changed_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_flag_rule_versions_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_rule_versions")),
        sa.UniqueConstraint(
            "program_id", "number", name=op.f("uq_flag_rule_versions_program_id_number")
        ),
    )
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag_rules", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("flag_rules_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("flag_rules_version")
        batch_op.drop_column("flag_rules")

    op.drop_table("flag_rule_versions")
