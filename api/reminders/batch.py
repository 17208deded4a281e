"""What the planner reads for a batch of graduates: one query per table, not per graduate."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, select, text, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from api.checkins import schedule
from api.db import one_of
from api.graduates.models import Graduate
from api.groups.seating import seated_meetings
from api.notifications.models import Notification
from api.plans.models import Appointment, AppointmentReport, SkillPractice
from api.reminders.models import ReminderPlanning
from api.reminders.models import ReminderPreferences as P
from api.reminders.rules import GROUP_LEAD, HISTORY, REMINDER_KINDS

BATCH = 1000
# An RSVP "no" is keyed by the meeting's original start; one this old no longer matters.
RSVP_MEMORY = timedelta(days=31)


@dataclass
class Batch:
    """What one batch of graduates needs from the database, read with one query per table."""

    recent: dict[uuid.UUID, list[Any]]
    flags: dict[uuid.UUID, list[Any]]  # watch and step-up flags: month-1 intensity
    practised: dict[uuid.UUID, list[datetime]]
    appointments: dict[uuid.UUID, list[Appointment]]
    reported: set[tuple[uuid.UUID, datetime]]
    existing: dict[uuid.UUID, list[Any]]  # so far, only for graduates with snoozes
    seats: dict[uuid.UUID, list[uuid.UUID]]  # graduate -> groups they hold a seat in
    meetings: dict[uuid.UUID, list[tuple[datetime, datetime]]]  # group -> (original, start)
    declined: set[tuple[uuid.UUID, uuid.UUID, datetime]]  # (graduate, group, original)


def batches(session: Session, graduate_ids: list[uuid.UUID] | None) -> Iterator[Sequence[Any]]:
    """Enrolled graduates with their preferences (None: defaults) and their planning row's
    `changes` (None: no row yet), by id, BATCH at a time: these ids, or everyone."""
    if graduate_ids is not None:
        ids = sorted(set(graduate_ids))
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            rows = session.execute(_graduates(_among(session, chunk))).all()
            if rows:
                yield rows
        return
    after: uuid.UUID | None = None
    while True:
        rows = session.execute(_graduates(_after(after)).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


Bound = Callable[[Any], ColumnElement[bool]]  # an id column -> which ids a batch takes


def _among(session: Session, ids: list[uuid.UUID]) -> Bound:
    return lambda column: one_of(session, column, ids)


def _after(after: uuid.UUID | None) -> Bound:
    return lambda column: true() if after is None else column > after


def _graduates(which: Bound) -> Select[*tuple[Any, ...]]:
    """`which(column)` picks the graduates by id; it also bounds the joined tables, so that
    their index scans start where the batch does (PostgreSQL does not carry a bound across
    a join: without it each batch would scan both tables from their first row)."""
    return (
        select(
            Graduate.id,
            Graduate.user_id,
            Graduate.timezone,
            Graduate.graduation_date,
            Graduate.substance_use,
            P.skill_times,
            P.quiet_start,
            P.quiet_end,
            P.daily_cap,
            P.kinds,
            P.maintenance_weekly,
            P.appointment_lead_minutes,
            P.paused_until,
            P.snoozes,
            ReminderPlanning.changes,
        )
        .outerjoin(P, and_(P.graduate_id == Graduate.id, which(P.graduate_id)))
        .outerjoin(
            ReminderPlanning,
            and_(ReminderPlanning.graduate_id == Graduate.id, which(ReminderPlanning.graduate_id)),
        )
        .where(Graduate.user_id.is_not(None), which(Graduate.id))
        .order_by(Graduate.id)
    )


def read(session: Session, graduates: Sequence[Any], now: datetime, horizon: timedelta) -> Batch:
    ids = [graduate.id for graduate in graduates]
    recent = schedule.recent_answers(session=session, graduate_ids=ids, now=now)
    practised: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for graduate_id, practiced_at in session.connection().execute(
        select(SkillPractice.graduate_id, SkillPractice.practiced_at).where(
            one_of(session, SkillPractice.graduate_id, ids),
            SkillPractice.done.is_(True),
            SkillPractice.practiced_at >= now - HISTORY - timedelta(days=1),
        )
    ):
        practised[graduate_id].append(practiced_at)
    appointments: dict[uuid.UUID, list[Appointment]] = defaultdict(list)
    for item in session.scalars(
        select(Appointment).where(one_of(session, Appointment.graduate_id, ids))
    ):
        appointments[item.graduate_id].append(item)
    appointment_ids = [item.id for items in appointments.values() for item in items]
    reported = {
        (appointment_id, start)
        for appointment_id, start in session.connection().execute(
            select(AppointmentReport.appointment_id, AppointmentReport.occurrence_start).where(
                one_of(session, AppointmentReport.appointment_id, appointment_ids),
                AppointmentReport.occurrence_start >= now - HISTORY - timedelta(days=8),
            )
        )
    }
    # A snooze brings back a reminder already sent: those graduates' outbox rows are needed
    # to decide, everyone else's only to reconcile (`outbox`, once the decisions are made).
    snoozed = [graduate for graduate in graduates if graduate.snoozes]
    existing = _window(session, [graduate.user_id for graduate in snoozed], now)
    seats, meetings, declined = seated_meetings(
        session=session,
        graduate_ids=ids,
        start=now - HISTORY,
        end=now + horizon + GROUP_LEAD,
        declined_since=now - RSVP_MEMORY,
    )
    return Batch(
        recent=recent,
        flags=schedule.intensity_flags(session=session, graduate_ids=ids, now=now),
        practised=practised,
        appointments=appointments,
        reported=reported,
        existing=existing,
        seats=seats,
        meetings=meetings,
        declined=declined,
    )


class Needs(NamedTuple):
    """The outbox rows one graduate's reconcile rests on: every row due from `since` (the
    start of the earliest local day with a wanted reminder, the daily cap's unit, or now:
    rows not yet due are the planner's to delete), and the rows of the wanted reminders'
    own slots (`subjects`, as (kind, subject)) however early in the window they fell due.
    Older rows on other days and slots change nothing."""

    user_id: uuid.UUID
    since: datetime
    subjects: list[tuple[str, str]]


def outbox(session: Session, needs: Sequence[Needs], now: datetime) -> dict[uuid.UUID, list[Any]]:
    """What `needs` asks for, by graduate: on PostgreSQL, an index probe per graduate and per
    slot, whatever the history; elsewhere, the whole window (more than asked, same answer)."""
    if not needs:
        return {}
    if session.get_bind().dialect.name != "postgresql":
        return _window(session, [need.user_id for need in needs], now)
    pairs = [(need.user_id, kind, subject) for need in needs for kind, subject in need.subjects]
    connection = session.connection()
    # Its estimates reach the JIT's threshold; compiling it costs more than running it.
    connection.execute(text("SET LOCAL jit = off"))
    rows = connection.execute(
        _NEEDED,
        {
            "users": [need.user_id for need in needs],
            "since": [max(need.since, now - WINDOW) for need in needs],
            "kinds": list(REMINDER_KINDS),
            "pair_users": [user for user, _, _ in pairs],
            "pair_kinds": [kind for _, kind, _ in pairs],
            "pair_subjects": [subject for _, _, subject in pairs],
            "window": now - WINDOW,
        },
    )
    found: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in {row.id: row for row in rows}.values():  # a row can answer both halves
        found[row.graduate_id].append(row)
    return found


WINDOW = HISTORY + timedelta(days=1)  # no decision rests on an outbox row older than this
# The outbox columns the planner reconciles with, read by either of its two queries.
_OUTBOX_COLUMNS = (
    Notification.id,
    Notification.graduate_id,
    Notification.kind,
    Notification.subject,
    Notification.due_at,
    Notification.expires_at,
    Notification.status,
)
_COLUMNS = "n.id, n.graduate_id, n.kind, n.subject, n.due_at, n.expires_at, n.status"
_NEEDED = text(
    f"SELECT {_COLUMNS} FROM unnest(CAST(:users AS uuid[]), CAST(:since AS timestamptz[]))"
    " AS w(user_id, since)"
    " JOIN notifications AS n ON n.user_id = w.user_id AND n.due_at >= w.since"
    " WHERE n.kind = ANY(CAST(:kinds AS text[]))"
    f" UNION ALL SELECT {_COLUMNS} FROM unnest(CAST(:pair_users AS uuid[]),"
    " CAST(:pair_kinds AS text[]), CAST(:pair_subjects AS text[])) AS w(user_id, kind, subject)"
    " JOIN notifications AS n"
    " ON n.user_id = w.user_id AND n.kind = w.kind AND n.subject = w.subject"
    " WHERE n.due_at >= :window"
).columns(*_OUTBOX_COLUMNS)


def _window(
    session: Session, user_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[Any]]:
    """These people's reminder rows of the whole window, by graduate."""
    found: dict[uuid.UUID, list[Any]] = defaultdict(list)
    if not user_ids:
        return found
    for row in session.connection().execute(
        select(*_OUTBOX_COLUMNS).where(
            # By (user, due time): an index seek to the recent rows, however long the history.
            one_of(session, Notification.user_id, user_ids),
            Notification.due_at >= now - WINDOW,
            Notification.kind.in_(REMINDER_KINDS),
        )
    ):
        found[row.graduate_id].append(row)
    return found
