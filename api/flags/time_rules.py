"""The rules that time itself trips, run by the jobs process: disengagement and escalation.

Disengaged (DOMAIN.md rule 4): two consecutive due dates of the same full form missed, on
the cadence in force when each fell due (api/checkins/cadence.py); no
app activity for 7 days in months 1-3 or 14 days in months 4-6 (after month 6 only missed
forms count); the two latest appointment reports both "missed". Missed daily check-ins
alone never count. Disengagement while a watch is open escalates it to a step-up review.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, DateTime, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from api.checkins.cadence import FULL_FORMS, INTENSIFYING, REACH, Cadence, midnight
from api.checkins.models import CheckIn
from api.db import one_of
from api.flags import configuration
from api.flags import rules as flag_rules
from api.flags.alerts import on_call_staff
from api.flags.models import Flag, FlagEvent
from api.flags.service import OPEN, merge_signal, raise_signal
from api.graduates.models import Graduate
from api.notifications.service import Planned, enqueue
from api.plans.models import Appointment, AppointmentReport
from api.programs.models import Program
from api.timeline import local_today, phase_for
from api.vocabulary import FlagKind, FlagSource, FlagStatus, NotificationKind

NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7", "bam": "BAM (substance use)"}
BATCH_SIZE = 2000
# The oldest answer (or flag) that can matter to one of the two latest closed due dates.
# Older ones are never read, however long the history.
ANSWERS_SINCE = REACH


def run_daily(*, session: Session, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Evaluate every graduate who has graduated; returns how many flags were raised or updated.

    Graduates go by id in batches, each read with the same five queries whatever its size;
    a batch where some have a signal costs two more, and raising new flags costs a few each.
    Each batch is committed, so a check-in evaluated meanwhile never waits long on a flag
    this run holds, and a failure keeps earlier batches (raising again merges, so a rerun
    duplicates nothing)."""
    touched, after = 0, None
    while True:
        statement = select(*EVALUATED).order_by(Graduate.id).limit(batch_size)
        if after is not None:
            statement = statement.where(Graduate.id > after)
        graduates = session.execute(statement).all()
        if not graduates:
            return touched
        after = graduates[-1].id
        touched += _run_batch(session, graduates, now)
        session.commit()
        if len(graduates) < batch_size:
            return touched


# What the rules read of a graduate: plain rows, far cheaper than ORM objects for the
# thousands a batch holds; only those with a signal are loaded as Graduate.
EVALUATED = (
    Graduate.id,
    Graduate.program_id,
    Graduate.graduation_date,
    Graduate.timezone,
    Graduate.substance_use,
    Graduate.last_active_at,
)


def _run_batch(session: Session, graduates: Sequence[Any], now: datetime) -> int:
    ids = [graduate.id for graduate in graduates]
    # Plain rows through the connection: cheaper per row than ORM results, and nothing is
    # pending to flush at the start of a batch.
    connection = session.connection()
    answered = _answered(session, ids, now)
    ranked = (
        select(
            Appointment.graduate_id,
            AppointmentReport.status,
            AppointmentReport.occurrence_start,
            func.row_number()
            .over(
                partition_by=Appointment.graduate_id,
                order_by=AppointmentReport.occurrence_start.desc(),
            )
            .label("n"),
        )
        .join(Appointment, Appointment.id == AppointmentReport.appointment_id)
        .where(one_of(session, Appointment.graduate_id, ids))
        .subquery()
    )
    reports = _by_graduate(
        connection.execute(select(ranked).where(ranked.c.n <= 2).order_by(ranked.c.n))
    )
    # Watch and step-up flags open at some time since ANSWERS_SINCE: the cadence in force
    # on each due date, and the open watches a disengagement escalates.
    intensity = _by_graduate(
        connection.execute(
            select(
                Flag.graduate_id,
                Flag.kind,
                Flag.source,
                Flag.status,
                Flag.raised_at,
                Flag.resolved_at,
            ).where(
                one_of(session, Flag.graduate_id, ids),
                Flag.kind.in_(INTENSIFYING),
                or_(Flag.resolved_at.is_(None), Flag.resolved_at >= now - ANSWERS_SINCE),
            )
        )
    )
    # The batch's programs (a handful) in one query: each program's own numbers apply.
    wanted = list({graduate.program_id for graduate in graduates})
    programs = {
        p.id: p for p in session.scalars(select(Program).where(one_of(session, Program.id, wanted)))
    }
    found: dict[uuid.UUID, list[flag_rules.Signal]] = {}
    for graduate in graduates:
        signals = signals_for(
            graduate=graduate,
            now=now,
            answered=answered.get(graduate.id, {}),
            latest_reports=reports.get(graduate.id, []),
            flags=intensity.get(graduate.id, []),
            rules=configuration.rules_for(programs[graduate.program_id]),
        )
        if signals:
            found[graduate.id] = signals
    return _raise(session, found, now) if found else 0


def _raise(session: Session, found: dict[uuid.UUID, list[flag_rules.Signal]], now: datetime) -> int:
    """The batch's signals, each graduate's in order, as `raise_signal` would take them one
    at a time: a signal with a flag of its kind and source open merges into it, any other
    goes through `raise_signal` (cooldown, a new flag, its alerts). The open flags are read
    in one query, not one per signal, and locked until the batch commits, as merging would
    lock them anyway, so none is resolved in between. Graduates whose signals all merge go
    first: their changes are written together when the first new flag is flushed."""
    ids = list(found)
    graduates = {
        g.id: g for g in session.scalars(select(Graduate).where(one_of(session, Graduate.id, ids)))
    }
    kinds = list({signal.kind for signals in found.values() for signal in signals})
    open_flags = {
        (flag.graduate_id, flag.kind, flag.source): flag
        for flag in session.scalars(
            select(Flag)
            .where(
                one_of(session, Flag.graduate_id, ids),
                Flag.kind.in_(kinds),
                Flag.status.in_(OPEN),
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }

    def all_merge(graduate_id: uuid.UUID) -> bool:
        return all((graduate_id, s.kind, s.source) in open_flags for s in found[graduate_id])

    touched = 0
    for graduate_id in sorted(ids, key=lambda graduate_id: not all_merge(graduate_id)):
        for signal in found[graduate_id]:
            flag = open_flags.get((graduate_id, signal.kind, signal.source))
            if flag is not None:
                merge_signal(session, flag, signal, now)
            else:
                flag = raise_signal(
                    session=session, graduate=graduates[graduate_id], signal=signal, now=now
                )
                if flag is None:
                    continue
                open_flags[(graduate_id, flag.kind, flag.source)] = flag
            touched += 1
    return touched


def _answered(
    session: Session, ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, dict[str, list[datetime]]]:
    """When each graduate answered each full form since ANSWERS_SINCE. On PostgreSQL the
    times come as one array per graduate and form: a batch's dozens of thousands of answers
    are a few thousand rows to fetch."""
    answered: dict[uuid.UUID, dict[str, list[datetime]]] = defaultdict(dict)
    recent = (
        one_of(session, CheckIn.graduate_id, ids),
        CheckIn.questionnaire.in_(FULL_FORMS),
        CheckIn.answered_at >= now - ANSWERS_SINCE,
    )
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Aware datetimes as the driver gives them: compared as instants, no conversion.
        times = type_coerce(func.array_agg(CheckIn.answered_at), ARRAY(DateTime(timezone=True)))
        for graduate_id, form, all_times in connection.execute(
            select(CheckIn.graduate_id, CheckIn.questionnaire, times)
            .where(*recent)
            .group_by(CheckIn.graduate_id, CheckIn.questionnaire)
        ):
            answered[graduate_id][form] = list(all_times)
        return answered
    for graduate_id, form, at in connection.execute(
        select(CheckIn.graduate_id, CheckIn.questionnaire, CheckIn.answered_at).where(*recent)
    ):
        answered[graduate_id].setdefault(form, []).append(at)
    return answered


def _by_graduate(rows: Iterable[Any]) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.graduate_id].append(row)
    return grouped


def signals_for(
    *,
    graduate: Any,
    now: datetime,
    answered: dict[str, list[datetime]],
    latest_reports: list[Any],
    flags: list[Any],
    rules: flag_rules.Rules,
) -> list[flag_rules.Signal]:
    """Plain code over what the batch loaded: the graduate's EVALUATED columns, when they
    answered each full form recently, the two latest appointment reports newest first
    (status, occurrence_start), and the graduate's recent watch and step-up flags (kind,
    source, status, raised_at, resolved_at)."""
    days = (local_today(graduate.timezone, now) - graduate.graduation_date).days
    if days < 0:
        return []
    watched_sources = {f.source for f in flags if f.kind == FlagKind.WATCH and f.status in OPEN}
    found = _missed_forms(answered, graduate, days, flags)
    inactive = _inactive(graduate, days, now, rules)
    if inactive is not None:
        found.append(inactive)
    missed_appointments = _missed_appointments(latest_reports)
    if missed_appointments is not None:
        found.append(missed_appointments)
    return [_escalate_open_watch(watched_sources, signal) for signal in found]


def _missed_forms(
    answered: dict[str, list[datetime]], graduate: Any, days: int, flags: list[Any]
) -> list[flag_rules.Signal]:
    """Each full form whose two latest closed due dates were both missed. PHQ-9 and GAD-7
    count on the cadence without substance-use flags first (source mood); due dates that
    only a substance-use flag's intensity added make it a substance-use signal, so a reader
    without the Part 2 consent never learns of them."""

    def seen(part2: bool) -> Cadence:
        return Cadence.of(
            graduation_date=graduate.graduation_date,
            timezone=graduate.timezone,
            substance_use=graduate.substance_use,
            flags=flags,
            part2=part2,
        )

    everything = seen(part2=True)
    part2_shaped = any(
        f.kind in INTENSIFYING and f.source == FlagSource.SUBSTANCE_USE for f in flags
    )
    found = []
    for form in everything.forms:
        if form == "bam":
            tried = [(everything, FlagSource.SUBSTANCE_USE)]
        elif part2_shaped:
            tried = [(seen(part2=False), FlagSource.MOOD), (everything, FlagSource.SUBSTANCE_USE)]
        else:
            tried = [(everything, FlagSource.MOOD)]
        for cadence, source in tried:
            missed = _missed_twice(answered.get(form, []), cadence, form, days)
            if missed:
                found.append(_missed_signal(form, source, missed))
                break
    return found


def _missed_twice(answered: list[datetime], cadence: Cadence, form: str, days: int) -> list[date]:
    """The two latest closed due dates of `form` (answered at `answered`), oldest first, if
    both were missed."""
    closed = cadence.last_closed(form, days)
    if len(closed) < 2:
        return []
    for day in closed:
        opened, closes = cadence.window(form, day)
        if any(opened <= at < closes for at in answered):
            return []
    return sorted(cadence.date_of(day) for day in closed)


def _missed_signal(form: str, source: str, due_dates: list[date]) -> flag_rules.Signal:
    return flag_rules.Signal(
        FlagKind.DISENGAGED,
        source,
        f"{form}_missed_twice",
        f"Missed the last two {NAMES[form]} check-ins (due {_day(due_dates[0])} and "
        f"{_day(due_dates[1])}).",
        {"form": form, "missed_due_dates": [d.isoformat() for d in due_dates]},
        (),
    )


def _inactive(
    graduate: Any, days: int, now: datetime, rules: flag_rules.Rules
) -> flag_rules.Signal | None:
    limit = rules.inactive_days.get(phase_for(days))
    if limit is None:
        return None
    zone = zoneinfo.ZoneInfo(graduate.timezone)
    since = max(filter(None, (graduate.last_active_at, midnight(graduate.graduation_date, zone))))
    quiet = (now - since).days
    if quiet < limit:
        return None
    return flag_rules.Signal(
        FlagKind.DISENGAGED,
        FlagSource.MOOD,
        "no_app_activity",
        f"Has not opened the app for {quiet} days (the limit in this phase is {limit}).",
        {
            "days_without_activity": quiet,
            "limit": limit,
            "last_active_at": graduate.last_active_at.isoformat()
            if graduate.last_active_at
            else None,
        },
        (),
    )


def _missed_appointments(latest: list[Any]) -> flag_rules.Signal | None:
    """`latest`: the two latest appointment reports, newest first."""
    if len(latest) < 2 or any(row.status != "missed" for row in latest):
        return None
    return flag_rules.Signal(
        FlagKind.DISENGAGED,
        FlagSource.MOOD,
        "appointments_missed_twice",
        "Reported missing the last two booked appointments.",
        {"missed": [row.occurrence_start.isoformat() for row in reversed(latest)]},
        (),
    )


def _escalate_open_watch(watched_sources: set[str], signal: flag_rules.Signal) -> flag_rules.Signal:
    """Stopping everything during a watch is the months 4-6 danger sign: review a step up."""
    if signal.source not in watched_sources:
        return signal
    return flag_rules.Signal(
        FlagKind.STEP_UP,
        signal.source,
        "disengaged_during_watch",
        f"{signal.explanation} This happened while a watch was open.",
        {**signal.details, "disengagement_rule": signal.rule},
        signal.evidence,
    )


def during_watch(
    *, session: Session, graduate: Graduate, signal: flag_rules.Signal
) -> flag_rules.Signal:
    """A disengagement signal raised outside the daily run (a group's attendance), turned
    into a step-up review if a watch of its source is open."""
    watched = set(
        session.scalars(
            select(Flag.source).where(
                Flag.graduate_id == graduate.id, Flag.kind == FlagKind.WATCH, Flag.status.in_(OPEN)
            )
        )
    )
    return _escalate_open_watch(watched, signal)


def escalate(*, session: Session, now: datetime) -> int:
    """Urgent flags nobody acknowledged within the hour (at any hour) and step-ups within a
    day go to the program's on-call staff: marked escalated, and they see it first. Each
    program's own (never later) limits apply."""
    candidates = session.execute(
        select(Flag, Program)
        .join(Program, Program.id == Flag.program_id)
        .where(
            Flag.status == FlagStatus.OPEN,
            Flag.escalated_at.is_(None),
            (
                (Flag.kind == FlagKind.URGENT)
                & (Flag.raised_at <= now - timedelta(minutes=flag_rules.SHORTEST_URGENT_MINUTES))
            )
            | (
                (Flag.kind == FlagKind.STEP_UP)
                & (Flag.raised_at <= now - timedelta(hours=flag_rules.SHORTEST_STEP_UP_HOURS))
            ),
        )
    ).all()
    escalated, pushes = 0, []
    for flag, program in candidates:
        rules = configuration.rules_for(program)
        limit = (
            timedelta(minutes=rules.escalate_urgent_minutes)
            if flag.kind == FlagKind.URGENT
            else timedelta(hours=rules.escalate_step_up_hours)
        )
        if flag.raised_at > now - limit:
            continue
        flag.escalated_at = now
        on_call = on_call_staff(session, program.id, rules)
        session.add(
            FlagEvent(
                flag_id=flag.id,
                at=now,
                actor_user_id=None,
                action="escalated",
                details={"to": "on_call_staff", "user_ids": [str(user) for user in on_call]},
            )
        )
        # Staff escalations ignore quiet hours (DOMAIN.md rule 8): due now, never expiring.
        # Each flag collapses only with itself: one flag's escalation never replaces another's.
        subject = f"flag:{flag.id}:escalated"
        pushes += [
            Planned(
                user,
                NotificationKind.ESCALATION,
                subject,
                now,
                collapse_key=subject,
                link=str(flag.id),
            )
            for user in on_call
        ]
        escalated += 1
    enqueue(session, items=pushes, now=now)
    return escalated


def _day(value: date) -> str:
    return value.strftime("%b %-d")
