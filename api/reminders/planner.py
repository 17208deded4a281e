"""Plan reminders: what each graduate should be told in the next hours, as outbox rows.

    plan(session, *, now, horizon=HORIZON, graduate_ids=None) -> int   (rows inserted)

Each run works out, for every enrolled graduate, the reminders wanted from now to
`now + horizon` (skill practice at their times and the phase's cadence, check-ins due and
a nudge before they close, appointments before and "did you go?" after), in their own
zone, then reconciles the outbox with it:

- a reminder already delivered, in flight, overdue or cancelled (its task was done) is
  never planned again: identity is (kind, subject), the subject naming the slot, not the
  time it was moved to;
- a pending row still in the future that is no longer wanted (preferences, time zone,
  pause, snooze or cap changed) is deleted; the planner owns rows until they fall due;
- what is new goes through `notifications.service.enqueue` (INSERT … ON CONFLICT DO
  NOTHING on (user, kind, subject, due time)): a second run inserts nothing.

Graduates are read a batch at a time, each batch with one query per table, so planning
100,000 graduates costs a few hundred queries, not one per graduate.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
import zoneinfo
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.orm import Session

from api.checkins import schedule
from api.checkins.cadence import WINDOW_DAYS, Cadence
from api.db import one_of
from api.graduates.models import Graduate
from api.groups.models import Group, GroupMember, GroupOccurrenceChange, GroupRsvp
from api.notifications.models import Notification
from api.notifications.service import Planned, enqueue
from api.plans import recurrence
from api.plans.models import Appointment, AppointmentReport, SkillPractice
from api.reminders.completion import (
    appointment_subject,
    check_in_subject,
    group_meeting_subject,
    skill_subject,
)
from api.reminders.models import DEFAULTS, KIND_GROUPS
from api.reminders.models import ReminderPreferences as P
from api.timeline import MAINTENANCE, phase_for

log = logging.getLogger("api.reminders")

HORIZON = timedelta(hours=12)
# A reminder whose time passed this recently still goes (a scheduler restarted, a slow run);
# older ones are not sent late, except a check-in's, which waits for the next waking hour.
LOOKBACK = timedelta(hours=1)
# Slots this far back may still be wanted: moved past quiet hours or by a snooze.
HISTORY = timedelta(days=2)
BATCH = 1000
WRITERS = 2  # batches written at once on PostgreSQL while the next is planned
# Which days after graduation (day % 7) get a skill reminder, by phase (DOMAIN.md).
SKILL_DAYS = {
    "month1": frozenset(range(6)),  # most days
    "months2_3": frozenset({0, 2, 4}),  # a few times a week
    "months4_6": frozenset({0, 2, 4}),
    MAINTENANCE: frozenset({0}),  # weekly, only if the graduate wants it
}
NUDGE_BEFORE_CLOSE = timedelta(hours=6)
FOLLOWUP_AFTER_END = timedelta(hours=1)
NO_QUIET_EXPIRY = timedelta(hours=12)
GROUP_LEAD = timedelta(hours=2)  # before a group meeting the graduate holds a seat in
# An RSVP "no" is keyed by the meeting's original start; one this old no longer matters.
RSVP_MEMORY = timedelta(days=31)
# When the cap bites, what matters most goes first.
PRIORITY = {
    "appointment_before": 0,
    "appointment_followup": 1,
    "group_meeting": 2,
    "check_in_due": 3,
    "check_in_nudge": 4,
    "skill_practice": 5,
}
REMINDER_KINDS = tuple(PRIORITY)
GROUP_OF = {kind: group for group, kinds in KIND_GROUPS.items() for kind in kinds}
LIVE = ("pending", "claimed", "sent", "failed")  # rows that count toward the daily cap
SNOOZE_SUFFIX = "+s"


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_quiet(clock: time, start: time, end: time) -> bool:
    """Quiet hours are [start, end) on the local clock; they may wrap midnight; none if equal."""
    if start == end:
        return False
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


@dataclass(frozen=True)
class Rules:
    """One graduate's preferences in their zone, and the wall-clock arithmetic on them."""

    zone: zoneinfo.ZoneInfo
    skill_times: tuple[str, ...]
    quiet_start: time
    quiet_end: time
    daily_cap: int
    off: frozenset[str]  # notification kinds switched off
    maintenance_weekly: bool
    leads: tuple[timedelta, ...]
    paused_until: datetime | None
    snoozes: tuple[tuple[str, datetime, datetime], ...]  # ("all" or group, asked at, until)

    @classmethod
    def of(cls, timezone: str, prefs: dict[str, Any]) -> Rules:
        return cls(
            zone=zoneinfo.ZoneInfo(timezone),
            skill_times=tuple(prefs["skill_times"]),
            quiet_start=parse_hhmm(prefs["quiet_start"]),
            quiet_end=parse_hhmm(prefs["quiet_end"]),
            daily_cap=prefs["daily_cap"],
            off=frozenset(
                kind
                for group, on in prefs["kinds"].items()
                if not on
                for kind in KIND_GROUPS.get(group, ())
            ),
            maintenance_weekly=prefs["maintenance_weekly"],
            leads=tuple(timedelta(minutes=m) for m in prefs["appointment_lead_minutes"]),
            paused_until=prefs["paused_until"],
            snoozes=tuple(
                (key, _instant(value["at"]), _instant(value["until"]))
                for key, value in sorted((prefs["snoozes"] or {}).items())
            ),
        )

    @property
    def slots(self) -> tuple[tuple[str, time], ...]:
        return tuple((slot, parse_hhmm(slot)) for slot in self.skill_times)

    def at(self, day: date, clock: time) -> datetime:
        """The instant of a local wall-clock time; a time skipped by DST comes an hour late."""
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    @property
    def has_quiet(self) -> bool:
        return self.quiet_start != self.quiet_end

    def is_quiet(self, instant: datetime) -> bool:
        return in_quiet(self.local(instant).time(), self.quiet_start, self.quiet_end)

    def out_of_quiet(self, instant: datetime) -> datetime:
        """`instant`, or the end of the quiet hours it falls in."""
        if not self.is_quiet(instant):
            return instant
        local = self.local(instant)
        day = local.date()
        if self.quiet_start > self.quiet_end and local.time() >= self.quiet_start:
            day += timedelta(days=1)
        return self.at(day, self.quiet_end)

    def expiry(self, instant: datetime) -> datetime:
        """When quiet hours next start after `instant`: a late dispatcher never sends in them."""
        if not self.has_quiet:
            return instant + NO_QUIET_EXPIRY
        day = self.local(instant).date()
        start = self.at(day, self.quiet_start)
        return start if start > instant else self.at(day + timedelta(days=1), self.quiet_start)

    def before_quiet(self, instant: datetime) -> datetime:
        """`instant`, or an hour before the quiet hours it falls in began (for nudges)."""
        if not self.is_quiet(instant):
            return instant
        local = self.local(instant)
        day = local.date()
        if self.quiet_start > self.quiet_end and local.time() < self.quiet_end:
            day -= timedelta(days=1)
        return self.at(day, self.quiet_start) - timedelta(hours=1)

    def snooze_for(self, kind: str) -> tuple[datetime, datetime] | None:
        found = [(at, until) for key, at, until in self.snoozes if key in ("all", GROUP_OF[kind])]
        return max(found, key=lambda snooze: snooze[1]) if found else None


@dataclass(frozen=True)
class Wanted:
    kind: str
    subject: str
    due_at: datetime
    expires_at: datetime


@dataclass
class Batch:
    """What one batch of graduates needs from the database, read with one query per table."""

    recent: dict[uuid.UUID, list[Any]]
    flags: dict[uuid.UUID, list[Any]]  # watch and step-up flags: month-1 intensity
    practised: dict[uuid.UUID, list[datetime]]
    appointments: dict[uuid.UUID, list[Appointment]]
    reported: set[tuple[uuid.UUID, datetime]]
    existing: dict[uuid.UUID, list[Any]]
    seats: dict[uuid.UUID, list[uuid.UUID]]  # graduate -> groups they hold a seat in
    meetings: dict[uuid.UUID, list[tuple[datetime, datetime]]]  # group -> (original, start)
    declined: set[tuple[uuid.UUID, uuid.UUID, datetime]]  # (graduate, group, original)


def plan(
    session: Session,
    *,
    now: datetime,
    horizon: timedelta = HORIZON,
    graduate_ids: list[uuid.UUID] | None = None,
    commit_batches: bool = False,
) -> int:
    """Materialize the reminders due up to `now + horizon`; how many rows were inserted.

    `commit_batches`: each batch is committed, so a run killed midway keeps what it
    planned, and the next run adds only the rest."""
    inserted = 0
    for change in _changes(session, now=now, horizon=horizon, graduate_ids=graduate_ids):
        inserted += _write(session, change, now=now)
        if commit_batches:
            session.commit()
    return inserted


def run(*, session: Session, now: datetime) -> int:
    """The `reminders.plan` job: every graduate, each batch committed.

    On PostgreSQL, WRITERS more connections write and commit batches while this one reads
    and decides the next, so the database's half of the work overlaps ours (100,000
    graduates must be planned well within the five minutes between runs). On SQLite, or
    with a session bound to one connection (a test's transaction), one connection does it all."""
    bind = session.get_bind()
    if not (isinstance(bind, Engine) and bind.dialect.name == "postgresql"):
        return plan(session, now=now, commit_batches=True)
    with _Writer(bind, now=now) as writer:
        for change in _changes(session, now=now, horizon=HORIZON, graduate_ids=None):
            writer.submit(change)
    return writer.inserted


class Change(NamedTuple):
    """One batch's decisions: rows to insert, future pending rows no longer wanted."""

    new: list[Planned]
    stale: list[uuid.UUID]


def _changes(
    session: Session,
    *,
    now: datetime,
    horizon: timedelta,
    graduate_ids: list[uuid.UUID] | None,
) -> Iterator[Change]:
    for graduates in _batches(session, graduate_ids):
        data = _read(session, graduates, now, horizon)
        change = Change(new=[], stale=[])
        for graduate in graduates:
            try:
                rules = _rules_for(graduate)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                # A zone this machine's tz database no longer has: better silent than at night.
                log.warning("unknown time zone; no reminders", extra={"graduate": str(graduate.id)})
                continue
            wanted = wanted_for(graduate, rules, data, now=now, horizon=horizon)
            add, drop = _reconcile(wanted, data.existing.get(graduate.id, []), rules, now)
            change.new.extend(
                Planned(
                    user_id=graduate.user_id,
                    graduate_id=graduate.id,
                    kind=item.kind,
                    subject=item.subject,
                    due_at=item.due_at,
                    expires_at=item.expires_at,
                )
                for item in add
            )
            change.stale.extend(drop)
        yield change


def _write(session: Session, change: Change, *, now: datetime) -> int:
    if change.stale:
        session.execute(
            delete(Notification).where(
                one_of(session, Notification.id, change.stale), Notification.status == "pending"
            ),
            execution_options={"synchronize_session": False},
        )
    return enqueue(session, items=change.new, now=now)


class _Writer:
    """Writes and commits batches on connections of their own, in WRITERS threads.

    At most WRITERS batches are in flight: `submit` first waits for the oldest, so a
    failed write stops the run a batch or two later (the batches before it stay committed)."""

    def __init__(self, engine: Engine, *, now: datetime) -> None:
        self._engine = engine
        self._now = now
        self._threads = ThreadPoolExecutor(
            max_workers=WRITERS, thread_name_prefix="reminders-writer"
        )
        self._in_flight: deque[Future[int]] = deque()
        self.inserted = 0

    def submit(self, change: Change) -> None:
        if len(self._in_flight) >= WRITERS:
            self.inserted += self._in_flight.popleft().result()
        self._in_flight.append(self._threads.submit(self._commit, change))

    def _commit(self, change: Change) -> int:
        with Session(self._engine) as session:
            inserted = _write(session, change, now=self._now)
            session.commit()
        return inserted

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        """Waits for what is in flight; a failed write raises unless the run already failed."""
        try:
            if exc_type is None:
                while self._in_flight:
                    self.inserted += self._in_flight.popleft().result()
        finally:
            self._threads.shutdown(wait=True)


def _batches(session: Session, graduate_ids: list[uuid.UUID] | None) -> Iterator[Sequence[Any]]:
    """Enrolled graduates with their preferences (None: defaults), by id, BATCH at a time."""
    statement = (
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
        )
        .outerjoin(P, P.graduate_id == Graduate.id)
        .where(Graduate.user_id.is_not(None))
        .order_by(Graduate.id)
        .limit(BATCH)
    )
    if graduate_ids is not None:
        statement = statement.where(Graduate.id.in_(graduate_ids))
    after: uuid.UUID | None = None
    while True:
        rows = session.execute(
            statement if after is None else statement.where(Graduate.id > after)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _rules_for(row: Any) -> Rules:
    """Most graduates share a zone and the defaults: their Rules are built once."""
    if row.daily_cap is None:  # no row yet
        return _rules(row.timezone, None)
    prefs = {key: getattr(row, key) for key in DEFAULTS}
    return _rules(row.timezone, json.dumps(prefs, sort_keys=True, default=str))


@functools.lru_cache(maxsize=4096)
def _rules(timezone: str, prefs: str | None) -> Rules:
    values = DEFAULTS if prefs is None else json.loads(prefs)
    if values["paused_until"] is not None:
        values = {**values, "paused_until": datetime.fromisoformat(values["paused_until"])}
    return Rules.of(timezone, values)


def _read(session: Session, graduates: Sequence[Any], now: datetime, horizon: timedelta) -> Batch:
    ids = [graduate.id for graduate in graduates]
    recent = schedule.recent_answers(session=session, graduate_ids=ids, now=now)
    practised: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for graduate_id, practiced_at in session.execute(
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
        for appointment_id, start in session.execute(
            select(AppointmentReport.appointment_id, AppointmentReport.occurrence_start).where(
                one_of(session, AppointmentReport.appointment_id, appointment_ids),
                AppointmentReport.occurrence_start >= now - HISTORY - timedelta(days=8),
            )
        )
    }
    existing: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(
            Notification.id,
            Notification.graduate_id,
            Notification.kind,
            Notification.subject,
            Notification.due_at,
            Notification.expires_at,
            Notification.status,
        ).where(
            # By (user, due time): an index seek to the recent rows, however long the history.
            one_of(session, Notification.user_id, [graduate.user_id for graduate in graduates]),
            Notification.due_at >= now - HISTORY - timedelta(days=1),
            Notification.kind.in_(REMINDER_KINDS),
        )
    ):
        existing[row.graduate_id].append(row)
    seats, meetings, declined = _group_meetings(session, ids, now, horizon)
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


def _group_meetings(
    session: Session, ids: list[uuid.UUID], now: datetime, horizon: timedelta
) -> tuple[
    dict[uuid.UUID, list[uuid.UUID]],
    dict[uuid.UUID, list[tuple[datetime, datetime]]],
    set[tuple[uuid.UUID, uuid.UUID, datetime]],
]:
    """Seats, the seated groups' meetings near now (changes applied, cancelled ones left
    out, one moved into the window included) and RSVP "no"s: three queries a batch."""
    start, end = now - HISTORY, now + horizon + GROUP_LEAD
    seats: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    groups: dict[uuid.UUID, Any] = {}
    for row in session.execute(
        select(GroupMember.graduate_id, Group.id, Group.starts_at, Group.timezone, Group.rrule)
        .join(Group, Group.id == GroupMember.group_id)
        .where(
            one_of(session, GroupMember.graduate_id, ids),
            GroupMember.status == "member",
            Group.archived_at.is_(None),
        )
    ):
        seats[row.graduate_id].append(row.id)
        groups[row.id] = row
    if not groups:
        return seats, {}, set()
    changes: dict[uuid.UUID, dict[datetime, Any]] = defaultdict(dict)
    for moved in session.execute(
        select(
            GroupOccurrenceChange.group_id,
            GroupOccurrenceChange.original_start,
            GroupOccurrenceChange.starts_at,
            GroupOccurrenceChange.cancelled,
        ).where(
            one_of(session, GroupOccurrenceChange.group_id, list(groups)),
            or_(
                GroupOccurrenceChange.original_start.between(start, end),
                GroupOccurrenceChange.starts_at.between(start, end),
            ),
        )
    ):
        changes[moved.group_id][moved.original_start] = moved
    meetings: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {}
    for group_id, group in groups.items():
        originals = set(
            recurrence.occurrences(
                starts_at=group.starts_at,
                timezone=group.timezone,
                rrule=group.rrule,
                start=start,
                end=end,
            )
        )
        found = []
        for original in originals | set(changes[group_id]):
            change = changes[group_id].get(original)
            if change is not None and change.cancelled:
                continue
            starts = change.starts_at if change is not None and change.starts_at else original
            if start <= starts < end:
                found.append((original, starts))
        meetings[group_id] = sorted(found)
    declined = {
        (row.graduate_id, row.group_id, row.occurrence_start)
        for row in session.execute(
            select(GroupRsvp.graduate_id, GroupRsvp.group_id, GroupRsvp.occurrence_start).where(
                one_of(session, GroupRsvp.graduate_id, ids),
                one_of(session, GroupRsvp.group_id, list(groups)),
                GroupRsvp.going.is_(False),
                GroupRsvp.occurrence_start >= now - RSVP_MEMORY,
            )
        )
    }
    return seats, meetings, declined


def wanted_for(
    graduate: Any, rules: Rules, data: Batch, *, now: datetime, horizon: timedelta
) -> list[Wanted]:
    """Every reminder this graduate should have, before the daily cap."""
    if rules.daily_cap == 0:
        return []
    cadence = _cadence(graduate, data)
    practised = frozenset(rules.local(at).date() for at in data.practised.get(graduate.id, ()))
    recent = data.recent.get(graduate.id)
    found: list[Wanted | None] = [
        *_skills(rules, cadence, practised, now, horizon),
        *(
            _check_ins(rules, cadence, now, horizon, recent)
            if recent
            else _check_ins_memo(rules, cadence, now, horizon)
        ),
        *_appointments(graduate, rules, data, now, horizon),
        *_group_reminders(graduate, rules, data, now, horizon),
        *_snoozed_repeats(graduate, rules, data, now),
    ]
    return [item for item in found if item is not None]


def _cadence(graduate: Any, data: Batch) -> Cadence:
    """The graduate's own cadence (every watch and step-up counts); hashable, so identical
    graduates share work."""
    return Cadence.of(
        graduation_date=graduate.graduation_date,
        timezone=graduate.timezone,
        substance_use=graduate.substance_use,
        flags=data.flags.get(graduate.id, ()),
    )


@functools.lru_cache(maxsize=65536)
def _place(
    rules: Rules,
    kind: str,
    subject: str,
    nominal: datetime,
    now: datetime,
    deadline: datetime | None = None,
) -> Wanted | None:
    """Apply per-kind off, snooze, quiet hours and pause to a reminder's nominal time."""
    if kind in rules.off:
        return None
    due = nominal
    snooze = rules.snooze_for(kind)
    if snooze is not None and snooze[0] <= due < snooze[1]:
        due = snooze[1]
    due = rules.out_of_quiet(due)
    if rules.paused_until is not None and due < rules.paused_until:
        return None
    expires = rules.expiry(due)
    if deadline is not None:
        expires = min(expires, deadline)
    if expires <= due or expires <= now:
        return None
    if due < now - LOOKBACK and kind != "check_in_due":
        return None
    return Wanted(kind, subject, due, expires)


def _days(rules: Rules, now: datetime, horizon: timedelta) -> Iterator[date]:
    day = rules.local(now - HISTORY).date()
    last = rules.local(now + horizon).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


@functools.lru_cache(maxsize=16384)
def _skills(
    rules: Rules,
    cadence: Cadence,
    practised: frozenset[date],
    now: datetime,
    horizon: timedelta,
) -> tuple[Wanted | None, ...]:
    found = []
    for day in _days(rules, now, horizon):
        days = (day - cadence.graduation_date).days
        if days < 0 or day in practised:
            continue
        phase = "month1" if cadence.intensified(days) else phase_for(days)
        if phase == MAINTENANCE and not rules.maintenance_weekly:
            continue
        if days % 7 not in SKILL_DAYS[phase]:
            continue
        for slot, clock in rules.slots:
            nominal = rules.at(day, clock)
            if now - HISTORY <= nominal < now + horizon:
                found.append(
                    _place(rules, "skill_practice", skill_subject(day, slot), nominal, now)
                )
    return tuple(found)


def _check_ins(
    rules: Rules,
    cadence: Cadence,
    now: datetime,
    horizon: timedelta,
    recent: list[Any] | None = None,
) -> tuple[Wanted | None, ...]:
    """A reminder when a required check-in opens, not before the graduate's first reminder
    time that day (a form that opens at midnight is announced at 09:00, not at the end of
    quiet hours), or at the next waking hour if that has passed; and a nudge some hours
    before it closes."""
    entries = schedule.due_from(cadence=cadence, recent=recent or [], now=now)
    found = []
    for entry in entries:
        if entry["optional"]:
            continue
        subject = check_in_subject(entry["questionnaire"], entry["due_date"])
        closes = entry["closes_at"]
        opened = max(
            datetime.combine(entry["due_date"], time(), tzinfo=rules.zone).astimezone(UTC),
            closes - timedelta(days=WINDOW_DAYS),
        )
        due = _first_live(rules, opened, now)
        if due < now + horizon:
            found.append(_place(rules, "check_in_due", subject, due, now, closes))
        nudge = rules.before_quiet(closes - NUDGE_BEFORE_CLOSE)
        if due < nudge < now + horizon:
            found.append(_place(rules, "check_in_nudge", subject, nudge, now, closes))
    return tuple(found)


# Graduates without recent check-ins in the same zone and phase share one answer.
_check_ins_memo = functools.lru_cache(maxsize=16384)(_check_ins)


def _first_live(rules: Rules, opened: datetime, now: datetime) -> datetime:
    """When to announce a check-in that opened at `opened`: that day's first reminder time
    (or `opened`, if later), out of quiet hours; if that moment's window has passed, the next
    day's first reminder time. The same on every run, so a row is never planned twice."""
    day = rules.local(opened).date()
    while True:
        due = rules.out_of_quiet(max(opened, rules.at(day, rules.slots[0][1])))
        if rules.expiry(due) > now:
            return due
        day += timedelta(days=1)


def _appointments(
    graduate: Any, rules: Rules, data: Batch, now: datetime, horizon: timedelta
) -> Iterator[Wanted | None]:
    longest = max(rules.leads, default=timedelta())
    for item in data.appointments.get(graduate.id, ()):
        for start in recurrence.occurrences(
            starts_at=item.starts_at,
            timezone=item.timezone,
            rrule=item.rrule,
            start=now - HISTORY - timedelta(minutes=item.duration_minutes),
            end=now + horizon + longest,
        ):
            if (item.id, start) in data.reported:
                continue
            subject = appointment_subject(item.id, start)
            for lead in rules.leads:
                nominal = start - lead
                if now - HISTORY <= nominal < now + horizon:
                    yield _place(
                        rules,
                        "appointment_before",
                        f"{subject}:{int(lead.total_seconds() // 60)}m",
                        nominal,
                        now,
                        start,
                    )
            after = start + timedelta(minutes=item.duration_minutes) + FOLLOWUP_AFTER_END
            if now - HISTORY <= after < now + horizon:
                yield _place(rules, "appointment_followup", subject, after, now)


def _group_reminders(
    graduate: Any, rules: Rules, data: Batch, now: datetime, horizon: timedelta
) -> Iterator[Wanted | None]:
    """GROUP_LEAD before each meeting of a group the graduate holds a seat in, unless they
    said they are not going; never after the meeting has begun."""
    for group_id in data.seats.get(graduate.id, ()):
        for original, starts in data.meetings.get(group_id, ()):
            if (graduate.id, group_id, original) in data.declined:
                continue
            nominal = starts - GROUP_LEAD
            if now - HISTORY <= nominal < now + horizon:
                subject = group_meeting_subject(group_id, original)
                yield _place(rules, "group_meeting", subject, nominal, now, starts)


def _snoozed_repeats(graduate: Any, rules: Rules, data: Batch, now: datetime) -> Iterator[Wanted]:
    """Snoozing a reminder that already arrived brings it back at the snooze's end."""
    for key, asked, until in rules.snoozes:
        kinds = REMINDER_KINDS if key == "all" else KIND_GROUPS.get(key, ())
        delivered = [
            row
            for row in data.existing.get(graduate.id, ())
            if row.kind in kinds
            and row.status == "sent"
            and asked - NO_QUIET_EXPIRY <= row.due_at <= asked
        ]
        if not delivered:
            continue
        last = max(delivered, key=lambda row: row.due_at)
        subject = last.subject + SNOOZE_SUFFIX
        if len(subject) > 200 or not _still_open(graduate, rules, data, last.kind, subject, now):
            continue
        due = rules.out_of_quiet(until)
        paused = rules.paused_until is not None and due < rules.paused_until
        if last.kind not in rules.off and not paused and rules.expiry(due) > now:
            yield Wanted(last.kind, subject, due, rules.expiry(due))


def _still_open(
    graduate: Any, rules: Rules, data: Batch, kind: str, subject: str, now: datetime
) -> bool:
    """Whether the task behind a reminder is still to do (cancelled rows say so too)."""
    base = subject.split("+", 1)[0]
    cancelled = any(
        row.status == "cancelled" and row.subject.split("+", 1)[0] == base
        for row in data.existing.get(graduate.id, ())
    )
    if cancelled:
        return False
    if kind == "skill_practice":
        day = date.fromisoformat(base[len("skill:") : len("skill:") + 10])
        return all(rules.local(at).date() != day for at in data.practised.get(graduate.id, ()))
    if kind in ("check_in_due", "check_in_nudge"):
        entries = schedule.due_from(
            cadence=_cadence(graduate, data), recent=data.recent.get(graduate.id, []), now=now
        )
        return base in {check_in_subject(e["questionnaire"], e["due_date"]) for e in entries}
    return True


def _reconcile(
    wanted: list[Wanted], existing: list[Any], rules: Rules, now: datetime
) -> tuple[list[Wanted], list[uuid.UUID]]:
    """What to insert and which future pending rows to delete, within the daily cap."""
    settled = [row for row in existing if row.status != "pending" or row.due_at <= now]
    taken = {(row.kind, row.subject) for row in settled}
    # The cap counts pushes: rows of one kind due at the same moment collapse into one.
    pushes: dict[date, set[tuple[str, datetime]]] = defaultdict(set)
    for row in settled:
        if row.status in LIVE:
            pushes[rules.local(row.due_at).date()].add((row.kind, row.due_at))
    keep: list[Wanted] = []
    for item in sorted(wanted, key=lambda item: (PRIORITY[item.kind], item.due_at)):
        if (item.kind, item.subject) in taken:
            continue
        day = pushes[rules.local(item.due_at).date()]
        if (item.kind, item.due_at) not in day:
            if len(day) >= rules.daily_cap:
                continue
            day.add((item.kind, item.due_at))
        taken.add((item.kind, item.subject))
        keep.append(item)
    future = {
        (row.kind, row.subject, row.due_at, row.expires_at): row.id
        for row in existing
        if row.status == "pending" and row.due_at > now
    }
    wanted_keys = {(item.kind, item.subject, item.due_at, item.expires_at) for item in keep}
    add = [
        item
        for item in keep
        if (item.kind, item.subject, item.due_at, item.expires_at) not in future
    ]
    drop = [row_id for key, row_id in future.items() if key not in wanted_keys]
    return add, drop


def _instant(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
