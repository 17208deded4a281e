"""Which reminders a graduate should have in the planning window, before the daily cap, and
until when that answer holds as time passes (api/reminders/visits.py relies on it).

Every item carries its `slot`: the instant that puts it in a window ending at `now +
horizon` (its nominal time, before quiet hours, a snooze or a pause move it). Planned with a
longer horizon, the items whose slot lies beyond the shorter one are exactly those the
shorter window will gain as time passes, each at `slot - horizon`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from api.checkins import schedule
from api.checkins.cadence import WINDOW_DAYS, Cadence
from api.plans import recurrence
from api.reminders.batch import Batch
from api.reminders.completion import (
    appointment_subject,
    check_in_subject,
    group_meeting_subject,
    skill_subject,
)
from api.reminders.models import KIND_GROUPS
from api.reminders.rules import (
    GROUP_LEAD,
    HISTORY,
    NO_QUIET_EXPIRY,
    REMINDER_KINDS,
    Rules,
)
from api.timeline import MAINTENANCE, phase_for
from api.vocabulary import NotificationKind, NotificationStatus

# A reminder whose time passed this recently still goes (a scheduler restarted, a slow run);
# older ones are not sent late, except a check-in's, which waits for the next waking hour.
LOOKBACK = timedelta(hours=1)
# Which days after graduation (day % 7) get a skill reminder, by phase (DOMAIN.md).
SKILL_DAYS = {
    "month1": frozenset(range(6)),  # most days
    "months2_3": frozenset({0, 2, 4}),  # a few times a week
    "months4_6": frozenset({0, 2, 4}),
    MAINTENANCE: frozenset({0}),  # weekly, only if the graduate wants it
}
NUDGE_BEFORE_CLOSE = timedelta(hours=6)
FOLLOWUP_AFTER_END = timedelta(hours=1)
SNOOZE_SUFFIX = "+s"
UNSENT = (NotificationStatus.PENDING, NotificationStatus.CLAIMED)  # may yet be sent


@dataclass(frozen=True)
class Wanted:
    kind: str
    subject: str
    due_at: datetime
    expires_at: datetime
    slot: datetime  # in the window once slot < now + horizon


class Outlook(NamedTuple):
    """A graduate's wanted reminders, and the first moment at which time alone could change
    them other than by a new slot entering the window: the next local midnight (the day's
    check-ins open, the phase may change), a check-in's announcement moving to the next day,
    or now, while a snoozed reminder may still come back."""

    wanted: list[Wanted]
    holds_until: datetime


def wanted_for(
    graduate: Any, rules: Rules, data: Batch, *, now: datetime, horizon: timedelta
) -> Outlook:
    """Every reminder this graduate should have, before the daily cap."""
    midnight = rules.at(rules.local(now).date() + timedelta(days=1), time())
    if rules.daily_cap == 0:
        return Outlook([], midnight)
    cadence = _cadence(graduate, data)
    practised = frozenset(rules.local(at).date() for at in data.practised.get(graduate.id, ()))
    recent = data.recent.get(graduate.id)
    check_ins = (
        _check_ins(rules, cadence, now, horizon, recent)
        if recent
        else _check_ins_memo(rules, cadence, now, horizon)
    )
    found: list[Wanted | None] = [
        *_skills(rules, cadence, practised, now, horizon),
        *check_ins.found,
        *_appointments(graduate, rules, data, now, horizon),
        *_group_reminders(graduate, rules, data, now, horizon),
        *_snoozed_repeats(graduate, rules, data, now),
    ]
    holds_until = min(midnight, check_ins.holds_until)
    if _repeat_may_come(graduate, rules, data, now):
        holds_until = now
    return Outlook([item for item in found if item is not None], holds_until)


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
    if due < now - LOOKBACK and kind != NotificationKind.CHECK_IN_DUE:
        return None
    return Wanted(kind, subject, due, expires, nominal)


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
                    _place(
                        rules,
                        NotificationKind.SKILL_PRACTICE,
                        skill_subject(day, slot),
                        nominal,
                        now,
                    )
                )
    return tuple(found)


class CheckIns(NamedTuple):
    found: tuple[Wanted | None, ...]
    holds_until: datetime  # when an announcement that had its day unsent moves to the next


def _check_ins(
    rules: Rules,
    cadence: Cadence,
    now: datetime,
    horizon: timedelta,
    recent: list[Any] | None = None,
) -> CheckIns:
    """A reminder when a required check-in opens, not before the graduate's first reminder
    time that day (a form that opens at midnight is announced at 09:00, not at the end of
    quiet hours), or at the next waking hour if that has passed; and a nudge some hours
    before it closes."""
    entries = schedule.due_from(cadence=cadence, recent=recent or [], now=now)
    found = []
    holds_until = datetime.max.replace(tzinfo=UTC)
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
        if _first_live(rules, opened, rules.expiry(due)) < closes:
            holds_until = min(holds_until, rules.expiry(due))  # then announced the next day
        if due < now + horizon:
            found.append(_place(rules, NotificationKind.CHECK_IN_DUE, subject, due, now, closes))
        nudge = rules.before_quiet(closes - NUDGE_BEFORE_CLOSE)
        if due < nudge < now + horizon:
            found.append(
                _place(rules, NotificationKind.CHECK_IN_NUDGE, subject, nudge, now, closes)
            )
    return CheckIns(tuple(found), holds_until)


# Graduates without recent check-ins in the same zone and phase share one answer.
_check_ins_memo = functools.lru_cache(maxsize=16384)(_check_ins)


@functools.lru_cache(maxsize=16384)
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
                        NotificationKind.APPOINTMENT_BEFORE,
                        f"{subject}:{int(lead.total_seconds() // 60)}m",
                        nominal,
                        now,
                        start,
                    )
            after = start + timedelta(minutes=item.duration_minutes) + FOLLOWUP_AFTER_END
            if now - HISTORY <= after < now + horizon:
                yield _place(rules, NotificationKind.APPOINTMENT_FOLLOWUP, subject, after, now)


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
                yield _place(rules, NotificationKind.GROUP_MEETING, subject, nominal, now, starts)


def _snoozed_repeats(graduate: Any, rules: Rules, data: Batch, now: datetime) -> Iterator[Wanted]:
    """Snoozing a reminder that already arrived brings it back at the snooze's end."""
    for key, asked, until in rules.snoozes:
        kinds = REMINDER_KINDS if key == "all" else KIND_GROUPS.get(key, ())
        delivered = [
            row
            for row in data.existing.get(graduate.id, ())
            if row.kind in kinds
            and row.status == NotificationStatus.SENT
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
            yield Wanted(last.kind, subject, due, rules.expiry(due), last.due_at)


def _repeat_may_come(graduate: Any, rules: Rules, data: Batch, now: datetime) -> bool:
    """A snooze would bring back a reminder the dispatcher has yet to send: once it is sent,
    the repeat is wanted, and the dispatcher tells the planner nothing."""
    for key, asked, until in rules.snoozes:
        if rules.expiry(rules.out_of_quiet(until)) <= now:
            continue
        kinds = REMINDER_KINDS if key == "all" else KIND_GROUPS.get(key, ())
        if any(
            row.kind in kinds
            and row.status in UNSENT
            and asked - NO_QUIET_EXPIRY <= row.due_at <= asked
            for row in data.existing.get(graduate.id, ())
        ):
            return True
    return False


def _still_open(
    graduate: Any, rules: Rules, data: Batch, kind: str, subject: str, now: datetime
) -> bool:
    """Whether the task behind a reminder is still to do (cancelled rows say so too)."""
    base = subject.split("+", 1)[0]
    cancelled = any(
        row.status == NotificationStatus.CANCELLED and row.subject.split("+", 1)[0] == base
        for row in data.existing.get(graduate.id, ())
    )
    if cancelled:
        return False
    if kind == NotificationKind.SKILL_PRACTICE:
        day = date.fromisoformat(base[len("skill:") : len("skill:") + 10])
        return all(rules.local(at).date() != day for at in data.practised.get(graduate.id, ()))
    if kind in (NotificationKind.CHECK_IN_DUE, NotificationKind.CHECK_IN_NUDGE):
        entries = schedule.due_from(
            cadence=_cadence(graduate, data), recent=data.recent.get(graduate.id, []), now=now
        )
        return base in {check_in_subject(e["questionnaire"], e["due_date"]) for e in entries}
    return True
