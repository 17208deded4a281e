"""The rules that time itself trips, run by the jobs process: disengagement and escalation.

Disengaged (DOMAIN.md rule 4): two consecutive due dates of the same full form missed; no
app activity for 7 days in months 1-3 or 14 days in months 4-6 (after month 6 only missed
forms count); the two latest appointment reports both "missed". Missed daily check-ins
alone never count. Disengagement while a watch is open escalates it to a step-up review.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.checkins import schedule
from api.checkins.models import CheckIn
from api.flags import configuration
from api.flags import rules as flag_rules
from api.flags.models import Flag, FlagEvent
from api.flags.service import OPEN, raise_signal, rules_of
from api.graduates.models import Graduate
from api.plans.models import Appointment, AppointmentReport
from api.programs.models import Program
from api.timeline import local_today, phase_for

NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7", "bam": "BAM (substance use)"}


def run_daily(*, session: Session, now: datetime) -> int:
    """Evaluate every graduate who has graduated; returns how many flags were raised or updated."""
    touched = 0
    for graduate in session.scalars(select(Graduate).order_by(Graduate.id)):
        for signal in signals_for(session=session, graduate=graduate, now=now):
            if raise_signal(session=session, graduate=graduate, signal=signal, now=now):
                touched += 1
    return touched


def signals_for(*, session: Session, graduate: Graduate, now: datetime) -> list[flag_rules.Signal]:
    days = (local_today(graduate.timezone, now) - graduate.graduation_date).days
    if days < 0:
        return []
    found = _missed_forms(session, graduate, days, now)
    inactive = _inactive(graduate, days, now, rules_of(session, graduate))
    if inactive is not None:
        found.append(inactive)
    missed_appointments = _missed_appointments(session, graduate)
    if missed_appointments is not None:
        found.append(missed_appointments)
    return [_escalate_open_watch(session, graduate, signal) for signal in found]


def _missed_forms(
    session: Session, graduate: Graduate, days: int, now: datetime
) -> list[flag_rules.Signal]:
    zone = zoneinfo.ZoneInfo(graduate.timezone)
    answered = session.execute(
        select(CheckIn.questionnaire, CheckIn.answered_at).where(
            CheckIn.graduate_id == graduate.id,
            CheckIn.answered_at >= now - schedule.LOOKBACK - timedelta(days=60),
        )
    ).all()
    found = []
    for form, weekly_until in schedule.FULL_FORMS.items():
        if form == "bam" and not graduate.substance_use:
            continue
        closed = [
            day
            for day in range(days - schedule.WINDOW_DAYS, 0, -1)
            if schedule.is_due_date(day, weekly_until=weekly_until)
        ][:2]
        if len(closed) < 2:
            continue
        missed = [
            day
            for day in closed
            if not _satisfied(answered, form, graduate, day, weekly_until, zone)
        ]
        if len(missed) == 2:
            due_dates = sorted(graduate.graduation_date + timedelta(days=d) for d in missed)
            found.append(
                flag_rules.Signal(
                    "disengaged",
                    "substance_use" if form == "bam" else "mood",
                    f"{form}_missed_twice",
                    f"Missed the last two {NAMES[form]} check-ins (due {_day(due_dates[0])} and "
                    f"{_day(due_dates[1])}).",
                    {"form": form, "missed_due_dates": [d.isoformat() for d in due_dates]},
                    (),
                )
            )
    return found


def _satisfied(
    answered: list[Any],
    form: str,
    graduate: Graduate,
    due_day: int,
    weekly_until: int,
    zone: zoneinfo.ZoneInfo,
) -> bool:
    opened = schedule.satisfied_from(graduate.graduation_date, due_day, weekly_until, zone)
    closes = schedule.midnight(
        graduate.graduation_date + timedelta(days=due_day + schedule.WINDOW_DAYS), zone
    )
    return any(row.questionnaire == form and opened <= row.answered_at < closes for row in answered)


def _inactive(
    graduate: Graduate, days: int, now: datetime, rules: flag_rules.Rules
) -> flag_rules.Signal | None:
    limit = rules.inactive_days.get(phase_for(days))
    if limit is None:
        return None
    zone = zoneinfo.ZoneInfo(graduate.timezone)
    since = max(
        filter(None, (graduate.last_active_at, schedule.midnight(graduate.graduation_date, zone)))
    )
    quiet = (now - since).days
    if quiet < limit:
        return None
    return flag_rules.Signal(
        "disengaged",
        "mood",
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


def _missed_appointments(session: Session, graduate: Graduate) -> flag_rules.Signal | None:
    latest = session.execute(
        select(AppointmentReport.status, AppointmentReport.occurrence_start)
        .join(Appointment, Appointment.id == AppointmentReport.appointment_id)
        .where(Appointment.graduate_id == graduate.id)
        .order_by(AppointmentReport.occurrence_start.desc())
        .limit(2)
    ).all()
    if len(latest) < 2 or any(row.status != "missed" for row in latest):
        return None
    return flag_rules.Signal(
        "disengaged",
        "mood",
        "appointments_missed_twice",
        "Reported missing the last two booked appointments.",
        {"missed": [row.occurrence_start.isoformat() for row in reversed(latest)]},
        (),
    )


def _escalate_open_watch(
    session: Session, graduate: Graduate, signal: flag_rules.Signal
) -> flag_rules.Signal:
    """Stopping everything during a watch is the months 4-6 danger sign: review a step up."""
    watch = session.scalar(
        select(Flag.id).where(
            Flag.graduate_id == graduate.id,
            Flag.kind == "watch",
            Flag.source == signal.source,
            Flag.status.in_(OPEN),
        )
    )
    if watch is None:
        return signal
    return flag_rules.Signal(
        "step_up",
        signal.source,
        "disengaged_during_watch",
        f"{signal.explanation} This happened while a watch was open.",
        {**signal.details, "disengagement_rule": signal.rule},
        signal.evidence,
    )


def escalate(*, session: Session, now: datetime) -> int:
    """Urgent flags nobody acknowledged within the hour (at any hour) and step-ups within a
    day go to the program's on-call staff: marked escalated, and they see it first. Each
    program's own (never later) limits apply."""
    candidates = session.execute(
        select(Flag, Program)
        .join(Program, Program.id == Flag.program_id)
        .where(
            Flag.status == "open",
            Flag.escalated_at.is_(None),
            (
                (Flag.kind == "urgent")
                & (Flag.raised_at <= now - timedelta(minutes=flag_rules.SHORTEST_URGENT_MINUTES))
            )
            | (
                (Flag.kind == "step_up")
                & (Flag.raised_at <= now - timedelta(hours=flag_rules.SHORTEST_STEP_UP_HOURS))
            ),
        )
    ).all()
    escalated = 0
    for flag, program in candidates:
        rules = configuration.rules_for(program)
        limit = (
            timedelta(minutes=rules.escalate_urgent_minutes)
            if flag.kind == "urgent"
            else timedelta(hours=rules.escalate_step_up_hours)
        )
        if flag.raised_at > now - limit:
            continue
        flag.escalated_at = now
        session.add(
            FlagEvent(
                flag_id=flag.id,
                at=now,
                actor_user_id=None,
                action="escalated",
                details={"to": "on_call_staff"},
            )
        )
        escalated += 1
    return escalated


def _day(value: date) -> str:
    return value.strftime("%b %-d")
