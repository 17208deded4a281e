"""Reminder preferences, snooze and pause: the graduate's own, applied to the outbox at once."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Invalid
from api.graduates.models import Graduate
from api.reminders import planner
from api.reminders.models import DEFAULTS, ReminderPreferences, default_row
from api.reminders.rules import HISTORY, Rules, in_quiet, parse_hhmm

TONIGHT = time(19)
DEFAULT_MORNING = time(8)  # "tomorrow" when there are no quiet hours to end


def read(*, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime) -> dict:
    graduate = _own(session, actor, graduate_id, "reminders.read", now)
    row = session.get(ReminderPreferences, graduate.id)  # reading writes nothing
    return view(graduate, row or ReminderPreferences(**default_row(graduate.id, now)), now)


def replace(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, body: dict[str, Any], now: datetime
) -> dict:
    graduate = _own(session, actor, graduate_id, "reminders.update", now)
    _check(body)
    row = _row(session, graduate, now)
    row.skill_times = sorted(body["skill_times"])
    row.quiet_start = body["quiet_hours"]["start"]
    row.quiet_end = body["quiet_hours"]["end"]
    row.daily_cap = body["daily_cap"]
    row.kinds = dict(body["kinds"])
    row.maintenance_weekly = body["maintenance_weekly"]
    row.appointment_lead_minutes = sorted(body["appointment_lead_minutes"], reverse=True)
    return _saved(session, graduate, row, now)


def snooze(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    duration: str,
    kind: str | None = None,
    now: datetime,
) -> dict:
    """1h: an hour from now; tonight: 19:00 today; tomorrow: when tomorrow's quiet hours end."""
    graduate = _own(session, actor, graduate_id, "reminders.snooze", now)
    row = _row(session, graduate, now)
    rules = Rules.of(graduate.timezone, _values(row))
    today = rules.local(now).date()
    if duration == "1h":
        until = now + timedelta(hours=1)
    elif duration == "tonight":
        until = rules.at(today, TONIGHT)
        if until <= now:
            raise Invalid(
                "It is already evening; snooze for an hour or until tomorrow.",
                errors={"duration": ["tonight is over for today"]},
            )
    else:
        morning = rules.quiet_end if rules.has_quiet else DEFAULT_MORNING
        until = rules.at(today + timedelta(days=1), morning)
    live = {
        key: value
        for key, value in (row.snoozes or {}).items()
        if datetime.fromisoformat(value["until"]) > now - HISTORY
    }
    live[kind or "all"] = {"at": now.isoformat(), "until": until.isoformat()}
    row.snoozes = live
    return _saved(session, graduate, row, now)


def pause(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, days: int, now: datetime
) -> dict:
    graduate = _own(session, actor, graduate_id, "reminders.pause", now)
    row = _row(session, graduate, now)
    row.paused_until = now + timedelta(days=days) if days else None
    return _saved(session, graduate, row, now)


def ensure_defaults(*, session: Session, graduate_id: uuid.UUID, now: datetime) -> None:
    """Give a graduate their default preferences row (the demo seed; the planner needs none)."""
    if session.get(ReminderPreferences, graduate_id) is None:
        session.add(ReminderPreferences(**default_row(graduate_id, now)))
        session.flush()


def view(graduate: Graduate, row: ReminderPreferences, now: datetime) -> dict[str, Any]:
    return {
        "timezone": graduate.timezone,
        "skill_times": row.skill_times,
        "quiet_hours": {"start": row.quiet_start, "end": row.quiet_end},
        "daily_cap": row.daily_cap,
        "kinds": row.kinds,
        "maintenance_weekly": row.maintenance_weekly,
        "appointment_lead_minutes": row.appointment_lead_minutes,
        "paused_until": row.paused_until if row.paused_until and row.paused_until > now else None,
        "snoozes": [
            {"kind": key, "until": datetime.fromisoformat(value["until"])}
            for key, value in sorted((row.snoozes or {}).items())
            if datetime.fromisoformat(value["until"]) > now
        ],
    }


def _check(body: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    times = body["skill_times"]
    if len(set(times)) != len(times):
        errors["skill_times"] = ["each time once"]
    start = parse_hhmm(body["quiet_hours"]["start"])
    end = parse_hhmm(body["quiet_hours"]["end"])
    for value in times:
        if in_quiet(parse_hhmm(value), start, end):
            errors.setdefault("skill_times", []).append(f"{value} is inside your quiet hours")
    leads = body["appointment_lead_minutes"]
    if len(set(leads)) != len(leads):
        errors["appointment_lead_minutes"] = ["each lead time once"]
    if errors:
        raise Invalid("Some reminder settings need another look.", errors=errors)


def _values(row: ReminderPreferences) -> dict[str, Any]:
    return {key: getattr(row, key) for key in DEFAULTS}


def _row(session: Session, graduate: Graduate, now: datetime) -> ReminderPreferences:
    row = session.get(ReminderPreferences, graduate.id)
    if row is None:
        row = ReminderPreferences(**default_row(graduate.id, now))
        session.add(row)
    return row


def _saved(
    session: Session, graduate: Graduate, row: ReminderPreferences, now: datetime
) -> dict[str, Any]:
    """Store, then replan this graduate at once: pending rows move with the new settings."""
    row.updated_at = now
    session.flush()
    planner.plan(session, now=now, graduate_ids=[graduate.id])
    return view(graduate, row, now)


def _own(session: Session, actor: Actor, graduate_id: uuid.UUID, action: str, now: datetime):
    return access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action=action,
        now=now,
    ).graduate
