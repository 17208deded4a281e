"""A program's working hours, in its own zone: when a step-up alert may go out.

Stored on the program as {"start": "08:00", "end": "18:00", "days": ["mon", …]}; null
means that default (08:00-18:00, Monday to Friday). The zone is the program's
`timezone`, or where most of its graduates live when staff have not set one.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.graduates.models import Graduate
from api.programs.models import Program

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS: dict[str, Any] = {"start": "08:00", "end": "18:00", "days": list(DAYS[:5])}


def working_hours(program: Program) -> dict[str, Any]:
    return program.working_hours or DEFAULT_HOURS


def zone(session: Session, program: Program) -> zoneinfo.ZoneInfo:
    """The program's zone; unset: the one most of its graduates live in (UTC if none)."""
    name = program.timezone or session.scalar(
        select(Graduate.timezone)
        .where(Graduate.program_id == program.id)
        .group_by(Graduate.timezone)
        .order_by(func.count().desc(), Graduate.timezone)
        .limit(1)
    )
    return zoneinfo.ZoneInfo(name or "UTC")


def next_opening(hours: dict[str, Any], tz: zoneinfo.ZoneInfo, now: datetime) -> datetime:
    """`now` if the program is open now, else when it next opens (UTC)."""
    local = now.astimezone(tz)
    start, end = time.fromisoformat(hours["start"]), time.fromisoformat(hours["end"])
    open_days = {DAYS.index(day) for day in hours["days"]}
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in open_days:
            continue
        opens = datetime.combine(day, start, tz)
        if offset == 0 and opens <= local < datetime.combine(day, end, tz):
            return now
        if local < opens:
            return opens.astimezone(UTC)
    return now  # not reached: at least one day is open, so a week always holds an opening
