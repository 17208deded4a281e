"""The migrations build the schema the models describe, and unbuild it, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import migrate
from api.db import make_engine
from api.notifications import partitions
from api.notifications.models import Notification
from api.notifications.partitions import Month
from api.users.models import User
from tests import databases


def test_upgrade_check_downgrade_on_an_empty_database(database_kind, tmp_path):
    with databases.fresh_database(database_kind, str(tmp_path)) as url:
        migrate.upgrade(url)
        migrate.check(url)  # raises if autogenerate finds any difference
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            assert {"users", "programs", "graduates", "audit_events"} <= set(
                inspect(engine).get_table_names()
            )
            migrate.downgrade(url, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            with engine.connect() as connection:
                versions = connection.execute(text("SELECT count(*) FROM alembic_version"))
                assert versions.scalar() == 0
            migrate.upgrade(url)
        finally:
            engine.dispose()


def test_one_head_with_a_four_digit_name():
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    heads = scripts.get_heads()
    assert len(heads) == 1
    for script in scripts.walk_revisions():
        assert len(script.revision) == 4 and script.revision.isdigit(), script.revision


def test_an_existing_outbox_moves_into_monthly_partitions_with_its_rows_and_back(
    database_kind, tmp_path
):
    """0016 on a database with rows: every row kept, a partition for each month holding one
    and for last, this and the next three months; the downgrade puts one table back."""
    with databases.fresh_database(database_kind, str(tmp_path)) as url:
        migrate.upgrade(url, "0015")
        engine = make_engine(url)
        user_id = uuid.uuid4()
        now = datetime.now(UTC)
        due = {
            "long ago": datetime(2024, 6, 15, 9, tzinfo=UTC),
            "february": datetime(2026, 2, 10, 9, tzinfo=UTC),
            "today": now,
            "next month": now + timedelta(days=40),
        }
        try:
            with engine.begin() as connection:
                connection.execute(
                    insert(User.__table__),
                    {
                        "id": user_id,
                        "firebase_uid": "u",
                        "email": "u@example.org",
                        "created_at": now,
                    },
                )
                connection.execute(
                    insert(Notification.__table__),
                    [_outbox_row(user_id, s, d) for s, d in due.items()],
                )
            before = _outbox(engine)

            migrate.upgrade(url)
            assert _outbox(engine) == before
            assert _primary_key(engine) == ["id", "due_at"]
            with engine.begin() as connection:
                again = insert(Notification.__table__).values(_outbox_row(user_id, "today", now))
                with pytest.raises(IntegrityError):  # the planner's unique key still holds
                    connection.execute(again)
            if database_kind == "postgresql":
                with Session(engine) as session:
                    months = set(partitions.existing(session))
                expected = {Month.of(moment) for moment in due.values()}
                assert months == expected | set(partitions.window(now, behind=1))

            migrate.downgrade(url, "0015")
            assert _outbox(engine) == before
            assert _primary_key(engine) == ["id"]
            if database_kind == "postgresql":
                with engine.connect() as connection:
                    tables = connection.scalars(
                        text("SELECT relname FROM pg_class WHERE relname LIKE 'notifications_2%'")
                    )
                    assert list(tables) == []
            migrate.upgrade(url)
            migrate.check(url)
        finally:
            engine.dispose()


def _outbox_row(user_id: uuid.UUID, subject: str, due_at: datetime) -> dict:
    return {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "kind": "check_in_due",
        "subject": subject,
        "due_at": due_at,
        "collapse_key": "check_in_due",
        "title": "t",
        "body": "b",
        "status": "pending" if due_at > datetime.now(UTC) else "sent",
        "attempts": 0,
        "next_attempt_at": due_at,
        "created_at": due_at,
        "priority": 1,
    }


def _outbox(engine) -> set[tuple]:
    table = Notification.__table__
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.id, table.c.subject, table.c.due_at, table.c.status)
        )
        return {tuple(row) for row in rows}


def _primary_key(engine) -> list[str]:
    return inspect(engine).get_pk_constraint("notifications")["constrained_columns"]
