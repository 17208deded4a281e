"""The daily time rules in batches: the same flags whatever the batch size, and a number of
SQL statements per batch that does not grow with the graduates in it."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from api.checkins.models import CheckIn
from api.flags import time_rules
from api.flags.models import Flag, FlagEvent
from api.graduates.models import Graduate
from api.plans.models import Appointment, AppointmentReport
from api.programs.models import Program
from tests import factories

NOW = factories.NOW  # Monday 2026-11-23, 09:00 in Chicago
GRADUATION = date(2026, 10, 5)  # day 49: PHQ-9 and GAD-7 were due on days 28 and 42
COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def local_noon(graduate: Graduate, day: int) -> datetime:
    return datetime.combine(
        graduate.graduation_date + timedelta(days=day),
        time(12),
        tzinfo=zoneinfo.ZoneInfo(graduate.timezone),
    )


def answer_forms(db: Session, graduate: Graduate, days: tuple[int, ...] = (28, 42)) -> None:
    for day in days:
        for form in ("phq9", "gad7"):
            at = local_noon(graduate, day)
            db.add(
                CheckIn(
                    graduate_id=graduate.id,
                    questionnaire=form,
                    form_version="test",
                    answered_at=at,
                    submitted_at=at,
                    answers={},
                    score=5,
                    band="mild",
                    subscales=None,
                    safety_positive=False,
                    part2=False,
                )
            )


def report_appointments(db: Session, graduate: Graduate, statuses: tuple[str, ...]) -> None:
    """One weekly appointment from day 7; its occurrences reported oldest first."""
    appointment = Appointment(
        graduate_id=graduate.id,
        kind="therapy",
        clinician_name="Dr. Lee",
        location="Clinic",
        video_url=None,
        starts_at=local_noon(graduate, 7),
        timezone=graduate.timezone,
        duration_minutes=50,
        rrule="FREQ=WEEKLY",
        created_at=NOW,
    )
    db.add(appointment)
    db.flush()
    for week, status in enumerate(statuses):
        db.add(
            AppointmentReport(
                appointment_id=appointment.id,
                occurrence_start=local_noon(graduate, 7 * (week + 1)),
                status=status,
                reported_at=NOW,
            )
        )


def open_watch(db: Session, graduate: Graduate) -> None:
    db.add(
        Flag(
            graduate_id=graduate.id,
            program_id=graduate.program_id,
            kind="watch",
            source="mood",
            status="open",
            rule="phq9_rise_from_baseline",
            rules_version="test",
            explanation="PHQ-9 rose.",
            evidence=[],
            details={},
            raised_at=NOW - timedelta(days=3),
            updated_at=NOW - timedelta(days=3),
        )
    )


def graduate(
    db: Session, program: Program, label: str, *, active_days_ago: float = 0, **kwargs
) -> Graduate:
    record = factories.graduate(
        db, program, email=factories.unique_email(label), graduation_date=GRADUATION, **kwargs
    )
    record.last_active_at = NOW - timedelta(days=active_days_ago, hours=1)
    record.display_name = label
    return record


def five_graduates(db: Session) -> None:
    """One of each: engaged (two missed appointments, then an attended one), forms missed
    (mood and Part 2), a quiet app, forms missed during a watch, two missed appointments."""
    program = factories.program(db)
    engaged = graduate(db, program, "engaged")
    answer_forms(db, engaged)
    report_appointments(db, engaged, ("missed", "missed", "attended"))
    graduate(db, program, "missed-forms", substance_use=True)
    quiet = graduate(db, program, "quiet", active_days_ago=10)
    answer_forms(db, quiet)
    watched = graduate(db, program, "watched")
    open_watch(db, watched)
    missed_appointments = graduate(db, program, "missed-appointments")
    answer_forms(db, missed_appointments)
    report_appointments(db, missed_appointments, ("attended", "missed", "missed"))
    db.commit()


def flags(db: Session) -> set[tuple[str, ...]]:
    rows = db.execute(
        select(Graduate.display_name, Flag.kind, Flag.source, Flag.rule, Flag.status).join(
            Graduate, Graduate.id == Flag.graduate_id
        )
    )
    return {tuple(row) for row in rows}


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, time_rules.BATCH_SIZE])
def test_every_batch_size_raises_the_same_flags(db, batch_size):
    five_graduates(db)
    touched = time_rules.run_daily(session=db, now=NOW, batch_size=batch_size)
    assert flags(db) == {
        ("missed-forms", "disengaged", "mood", "phq9_missed_twice", "open"),
        ("missed-forms", "disengaged", "substance_use", "bam_missed_twice", "open"),
        ("quiet", "disengaged", "mood", "no_app_activity", "open"),
        ("watched", "step_up", "mood", "disengaged_during_watch", "open"),
        ("watched", "watch", "mood", "phq9_rise_from_baseline", "resolved"),
        ("missed-appointments", "disengaged", "mood", "appointments_missed_twice", "open"),
    }
    # Two signals each for missed-forms' mood flag and the watched graduate's step-up.
    assert touched == 7
    [missed] = db.scalars(select(Flag).where(Flag.rule == "appointments_missed_twice"))
    assert missed.details["missed"] == ["2026-10-19T17:00:00+00:00", "2026-10-26T17:00:00+00:00"]


def count_statements(
    db: Session, *, batch_size: int, touched: int = 0, counted: tuple[str, ...] = COUNTED
) -> int:
    sent: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if statement.lstrip().upper().startswith(counted):
            sent.append(statement)

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", count)
    try:
        assert time_rules.run_daily(session=db, now=NOW, batch_size=batch_size) == touched
    finally:
        event.remove(connection, "before_cursor_execute", count)
    return len(sent)


def engaged_graduates(db: Session, count: int) -> None:
    program = factories.program(db)
    for n in range(count):
        record = graduate(db, program, f"engaged-{n}")
        answer_forms(db, record)
        report_appointments(db, record, ("attended", "missed"))
    db.commit()


@pytest.mark.parametrize("graduates", [3, 12])
def test_statements_per_batch_do_not_grow_with_its_graduates(db, graduates):
    engaged_graduates(db, graduates)
    assert count_statements(db, batch_size=100) == 5  # graduates, forms, reports, watches,
    # and the batch's programs (their rules)


def test_statements_grow_with_batches_only(db):
    engaged_graduates(db, 12)
    # Four batches of five statements, and the read that finds no fifth batch.
    assert count_statements(db, batch_size=3) == 4 * 5 + 1


def quiet_graduates_already_flagged(db: Session, count: int) -> None:
    """Quiet for ten days, and flagged for it yesterday: today's signal merges."""
    program = factories.program(db)
    for n in range(count):
        record = graduate(db, program, f"quiet-{n}", active_days_ago=10)
        answer_forms(db, record)
        db.add(
            Flag(
                graduate_id=record.id,
                program_id=program.id,
                kind="disengaged",
                source="mood",
                status="acknowledged",
                rule="no_app_activity",
                rules_version="test",
                explanation="Has not opened the app for 9 days (the limit in this phase is 7).",
                evidence=[],
                details={"days_without_activity": 9},
                raised_at=NOW - timedelta(days=1),
                updated_at=NOW - timedelta(days=1),
            )
        )
    db.commit()


@pytest.mark.parametrize("graduates", [3, 12])
def test_signals_merge_into_flags_already_open_without_a_query_each(db, graduates):
    quiet_graduates_already_flagged(db, graduates)
    reads = count_statements(db, batch_size=100, touched=graduates, counted=("SELECT",))
    # The batch's five reads, then the flagged graduates and their open flags: as many for
    # 12 graduates as for 3 (each merge writes its flag and its event, batched).
    assert reads == 5 + 2
    flagged = db.scalars(select(Flag)).all()
    assert len(flagged) == graduates
    for flag in flagged:
        assert flag.status == "acknowledged"
        assert flag.updated_at == NOW
        assert flag.explanation.startswith("Has not opened the app for 10 days")
        assert [event.action for event in time_rules_events(db, flag)] == ["updated"]


def time_rules_events(db: Session, flag: Flag) -> list[FlagEvent]:
    return list(db.scalars(select(FlagEvent).where(FlagEvent.flag_id == flag.id)))
