"""The outbox by month: partitions made ahead by the scheduler, a dispatcher's claim that
reads only the partitions it needs, rows too late to send ended, and retention by whole
months (PostgreSQL drops the partition; SQLite deletes the same rows)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.notifications import dispatch, partitions
from api.notifications.models import Notification
from api.notifications.partitions import Month
from api.notifications.service import Planned, enqueue
from jobs.scheduler import run_job
from tests import databases, factories
from tests.test_notifications import RecordingSender

NOW = factories.NOW  # 2026-11-23


def _postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _attached(db: Session) -> set[str]:
    return {month.name for month in partitions.existing(db)}


def _row(db, user_id, due_at, subject, *, graduate_id=None, status="sent", kind="check_in_due"):
    enqueue(db, items=[Planned(user_id, kind, subject, due_at, graduate_id=graduate_id)], now=NOW)
    db.execute(update(Notification).where(Notification.subject == subject).values(status=status))


def _subjects(db) -> set[str]:
    return set(db.scalars(select(Notification.subject)))


# -- made ahead ----------------------------------------------------------------------------


def test_the_partitions_job_makes_this_month_and_three_ahead_and_a_missing_one_again(
    app, db, world, clock
):
    january = datetime(2027, 1, 10, tzinfo=UTC)  # two months after the clock's November
    if not _postgres(db):
        assert run_job(app, "notifications.partitions") == 0  # one plain table
        _row(db, world.graduate.user_id, january, "january", status="pending")
        assert _subjects(db) == {"january"}
        return
    db.execute(text("DROP TABLE notifications_2027_01"))  # the job did not run for a while
    with pytest.raises(IntegrityError, match="no partition"), db.begin_nested():
        _row(db, world.graduate.user_id, january, "january", status="pending")

    assert run_job(app, "notifications.partitions") == 1
    assert run_job(app, "notifications.partitions") == 0  # made once
    _row(db, world.graduate.user_id, january, "january", status="pending")
    assert _subjects(db) == {"january"}

    later = datetime(2028, 6, 10, tzinfo=UTC)  # beyond what the suite's database holds
    assert run_job(app, "notifications.partitions", now=later) == 4
    assert {"notifications_2028_06", "notifications_2028_09"} <= _attached(db)
    _row(db, world.graduate.user_id, datetime(2028, 9, 30, 23, tzinfo=UTC), "september")


@pytest.mark.skipif(
    "postgresql" not in databases.wanted() or databases.postgres_problem() is not None,
    reason="two connections at once need PostgreSQL (required in CI)",
)
def test_making_a_partition_waits_for_no_one_writing_or_reading_the_outbox(tmp_path):
    with databases.migrated_postgres(str(tmp_path)) as engine:
        with Session(engine) as setup:
            user_id = factories.user(setup, "writer@example.org").id
            setup.commit()
        with Session(engine) as writer, Session(engine) as scheduler:
            _row(writer, user_id, NOW, "in a transaction still open", status="pending")
            writer.scalar(select(Notification.id).where(Notification.user_id == user_id))
            made = partitions.ensure(session=scheduler, now=datetime(2029, 1, 5, tzinfo=UTC))
            assert made == 4  # none of them waited out LOCK_TIMEOUT behind the writer
            writer.commit()


# -- the dispatcher's claim ----------------------------------------------------------------


def _seed_a_year_of_outbox(db, user_id, now) -> None:
    """A year of delivered rows (3,000 a month), a morning's burst of 2,000 due now, and
    the next two days planned: the shape a claim meets, small."""
    db.execute(
        text(
            "INSERT INTO notifications (id, user_id, kind, subject, due_at, collapse_key, "
            "title, body, status, attempts, next_attempt_at, created_at, priority) "
            "SELECT gen_random_uuid(), :user_id, 'check_in_due', 'seed:' || n, due, "
            "'check_in_due', 't', 'b', CASE WHEN n > 36000 THEN 'pending' ELSE 'sent' END, "
            "0, due, :now, 1 "
            "FROM generate_series(1, 40000) AS n, LATERAL (SELECT CASE"
            " WHEN n <= 36000 THEN :now - interval '365 days' + n * interval '876 seconds'"
            " WHEN n <= 38000 THEN :now - interval '1 minute' * (n % 60)"
            " ELSE :now + interval '1 minute' * (n % 2880) END) AS t(due)"
        ),
        {"user_id": user_id, "now": now},
    )
    db.execute(text("ANALYZE notifications"))


def _claim_statement(app, db, clock) -> tuple[str, dict]:
    """The claim exactly as a dispatcher sends it: caught on its way to the database."""
    seen: list[tuple[str, dict]] = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE notifications") and "RETURNING" in statement:
            seen.append((statement, parameters))

    engine = app.extensions["companion"].db.engine
    event.listen(engine, "before_cursor_execute", catch)
    try:
        dispatch.for_app(app, sender=RecordingSender(), name="explain").claim(dispatch.Report())
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    (claim,) = seen
    return claim


def _partition_index(db, partition: str) -> str:
    return db.scalar(
        text(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " JOIN pg_index ON pg_index.indexrelid = child.oid"
            " WHERE pg_inherits.inhparent ="
            " CAST('ix_notifications_status_priority_next_attempt_at' AS regclass)"
            " AND pg_index.indrelid = CAST(:partition AS regclass)"
        ),
        {"partition": partition},
    )


@pytest.mark.parametrize(
    ("now", "months"),
    [
        (NOW, {"2026_11"}),  # late in a month: this month's partition only
        (datetime(2026, 12, 3, 15, tzinfo=UTC), {"2026_11", "2026_12"}),  # a month's first days
    ],
)
def test_the_claim_reads_only_the_partitions_due_rows_can_be_in_by_their_index(
    app, db, world, clock, now, months
):
    if not _postgres(db):
        pytest.skip("SQLite has one table")
    clock.set(now)
    _seed_a_year_of_outbox(db, world.graduate.user_id, now)
    statement, parameters = _claim_statement(app, db, clock)
    plan = "\n".join(db.connection().exec_driver_sql("EXPLAIN " + statement, parameters).scalars())
    print(plan)  # shown with -s; the report quotes it

    read = set(re.findall(r" on notifications_(\d{4}_\d{2})", plan))
    assert read == months, plan
    current = Month.of(now).name
    assert f"Index Scan using {_partition_index(db, current)} on {current}" in plan, plan


def test_rows_a_week_late_are_never_claimed_and_the_daily_job_ends_them(
    app, db, world, clock, as_user
):
    therapist = world.therapist_consent.user_id
    for user_id in (world.graduate.user_id, therapist):
        factories.device(db, user_id)
    late, in_time = (
        NOW - dispatch.LATE - timedelta(hours=1),
        NOW - dispatch.LATE + timedelta(hours=1),
    )
    _row(db, world.graduate.user_id, late, "reminder, late", status="pending")
    _row(db, therapist, late, "alert, late", status="pending", kind="alert")
    _row(db, world.graduate.user_id, in_time, "in time", status="pending", kind="skill_practice")

    report = dispatch.for_app(app, sender=RecordingSender(), rng=random.Random(1)).drain()
    assert report.claimed == 1 and report.sent == 1
    assert run_job(app, "notifications.expire-late") == 2
    rows = {row.subject: row for row in db.scalars(select(Notification))}
    assert rows["reminder, late"].status == "expired"  # never sent late
    assert rows["alert, late"].status == "failed" and rows["alert, late"].last_error == "late"
    assert rows["in time"].status == "sent"
    inbox = as_user(world.therapist_consent.email).get("/api/v1/me/notifications").json
    assert [item["kind"] for item in inbox] == ["alert"]  # the clinician still sees it


# -- retention by whole months -------------------------------------------------------------


def test_retention_drops_months_past_every_program_s_period_and_trims_shorter_ones(
    app, db, world, clock
):
    """Lakeside keeps inboxes 30 days, Elsewhere 90: on 23 Nov, July and before are past
    both (PostgreSQL drops those partitions), September is past Lakeside's only."""
    world.program.inbox_retention_days, world.other_program.inbox_retention_days = 30, 90
    db.add_all([world.program, world.other_program])
    elsewhere = factories.graduate(db, world.other_program, email=factories.unique_email("e"))
    ours, staff = world.graduate, world.staff.user_id

    def at(month: int, day: int) -> datetime:
        return datetime(2026, month, day, 12, tzinfo=UTC)

    _row(db, ours.user_id, at(7, 10), "july", graduate_id=ours.id)
    _row(db, staff, at(7, 12), "staff, july")
    _row(db, ours.user_id, at(6, 15), "june, pending", graduate_id=ours.id, status="pending")
    _row(db, ours.user_id, at(6, 16), "june, sent", graduate_id=ours.id)
    _row(db, ours.user_id, at(9, 20), "september", graduate_id=ours.id)
    _row(db, ours.user_id, at(10, 5), "october", graduate_id=ours.id)
    _row(db, elsewhere.user_id, at(9, 20), "elsewhere, september", graduate_id=elsewhere.id)
    _row(db, staff, at(9, 21), "staff, september")
    if _postgres(db):
        assert "notifications_2026_07" in _attached(db)

    run_job(app, "privacy.retention")

    assert _subjects(db) == {
        "june, pending",  # in flight: its month stays
        "october",  # October is not wholly 30 days past
        "elsewhere, september",  # Elsewhere keeps 90 days
        "staff, september",  # staff's rows go by the longest period
    }
    if _postgres(db):
        attached = _attached(db)
        assert "notifications_2026_06" in attached  # kept for its pending row
        assert not {"notifications_2026_05", "notifications_2026_07"} & attached
        assert {"notifications_2026_08", "notifications_2026_09"} <= attached
