"""The `reminders.plan` job on PostgreSQL writes each batch on connections of its own while
it reads the next. It must plan exactly what the one-transaction `plan()` would, drop rows
no longer wanted, insert nothing the second time, and stop on a failed write with the
batches before it kept. A fresh database (the writers need committed rows to see);
PostgreSQL only, required in CI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.notifications.models import Notification
from api.reminders import planner
from api.reminders.models import KIND_GROUPS, ReminderPreferences
from tests import databases, factories

pytestmark = pytest.mark.skipif(
    "postgresql" not in databases.wanted() or databases.postgres_problem() is not None,
    reason="the job's writer connections need PostgreSQL (required in CI)",
)
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 08:00 in Chicago
CROWD = 2 * planner.BATCH + 7  # three batches, the last one short


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    with databases.migrated_postgres(str(tmp_path)) as engine:
        yield engine


@pytest.fixture
def people(engine) -> list[tuple[uuid.UUID, uuid.UUID]]:
    with Session(engine) as session:
        crowd = factories.reminder_crowd(session, CROWD, NOW)
        session.commit()
    return crowd


def _outbox(engine) -> set[tuple]:
    with Session(engine) as session:
        return _outbox_in(session)


def _job(engine, now: datetime = NOW) -> int:
    with Session(engine) as session:
        inserted = planner.run(session=session, now=now)
        session.commit()
    return inserted


def test_the_job_plans_what_one_transaction_would_and_a_second_run_adds_nothing(engine, people):
    with Session(engine) as session:
        expected_count = planner.plan(session, now=NOW)
        session.flush()
        expected = _outbox_in(session)
        session.rollback()

    assert _job(engine) == expected_count > CROWD
    assert _outbox(engine) == expected
    assert _job(engine) == 0
    planned_for = {row[0] for row in expected}
    assert planned_for == {user for user, _ in people}


def test_the_job_deletes_future_rows_no_longer_wanted(engine, people):
    _job(engine)
    quiet = [graduate for _, graduate in people[: planner.BATCH + 3]]  # across two batches
    with Session(engine) as session:
        session.execute(
            update(ReminderPreferences)
            .where(ReminderPreferences.graduate_id.in_(quiet))
            .values(kinds={group: group != "skill_practice" for group in KIND_GROUPS})
        )
        session.commit()

    assert _job(engine) == 0
    with Session(engine) as session:
        left = session.scalar(
            select(func.count()).where(
                Notification.graduate_id.in_(quiet),
                Notification.kind == "skill_practice",
                Notification.due_at > NOW,  # one due now is the dispatchers' already
            )
        )
        others = session.scalar(
            select(func.count()).where(
                Notification.graduate_id.not_in(quiet),
                Notification.kind == "skill_practice",
                Notification.due_at > NOW,
            )
        )
    assert left == 0
    assert others > 0


def test_a_failed_write_stops_the_job_and_keeps_the_batches_before_it(engine, people):
    """The database refuses the last batch's rows (a trigger, as a full disk would)."""
    last_user = max(people, key=lambda person: person[1])[0]  # batches go by graduate id
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON notifications FOR EACH ROW "
                f"WHEN (NEW.user_id = '{last_user}') EXECUTE FUNCTION refuse()"
            )
        )

    with pytest.raises(DBAPIError, match="refused"):
        _job(engine)
    with Session(engine) as session:
        planned_for = session.scalar(select(func.count(func.distinct(Notification.user_id))))
    assert planned_for == 2 * planner.BATCH  # the first two batches, not the refused one

    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse ON notifications"))
    assert _job(engine) > 0  # the next run adds only the rest
    assert _job(engine) == 0


def _outbox_in(session: Session) -> set[tuple]:
    return set(
        session.execute(
            select(
                Notification.user_id,
                Notification.kind,
                Notification.subject,
                Notification.due_at,
                Notification.status,
                Notification.title,
            )
        ).all()
    )
