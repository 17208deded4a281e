"""Which check-ins are due now, by DOMAIN.md's cadence (api/checkins/cadence.py), in the
graduate's own day, as the reader may see it.

Daily: every day (expected in month 1 and under month-1 intensity, optional after). Full
forms: on their due dates, open for their window; any answer after the previous due date
satisfies the next, so answering early is never a miss. A positive PHQ-2 or GAD-2 in the
daily check-in makes the full form due now. A reader without the Part 2 consent gets the
list as if the BAM and substance-use flags did not exist.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, null, or_, select, union_all
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.checkins.cadence import INTENSIFYING, REACH, WINDOW_DAYS, Cadence
from api.checkins.models import CheckIn
from api.db import one_of
from api.flags.models import Flag
from api.graduates.models import Graduate
from api.timeline import local_today

SCREENS = {"phq2": "phq9", "gad2": "gad7"}  # daily subscale -> the full form it calls for
SCREEN_POSITIVE_AT = 3
LOOKBACK = timedelta(days=60)  # longer than any gap between due dates


def due(
    *, session: Session, graduate: Graduate, now: datetime, part2: bool = True
) -> list[dict[str, Any]]:
    """What is due now; `part2`: whether the reader may see substance-use care."""
    if local_today(graduate.timezone, now) < graduate.graduation_date:
        return []
    recent = recent_answers(session=session, graduate_ids=[graduate.id], now=now)
    flags = intensity_flags(session=session, graduate_ids=[graduate.id], now=now)
    cadence = Cadence.of(
        graduation_date=graduate.graduation_date,
        timezone=graduate.timezone,
        substance_use=graduate.substance_use,
        flags=flags.get(graduate.id, ()),
        part2=part2,
    )
    return due_from(cadence=cadence, recent=recent.get(graduate.id, []), now=now)


def recent_answers(
    *, session: Session, graduate_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[Any]]:
    """What `due_from` needs per graduate, in one query however long the history: each
    questionnaire's latest answer within LOOKBACK, and the daily check-ins (with their
    screens) of the last WINDOW_DAYS, oldest first."""
    screens = select(
        CheckIn.graduate_id, CheckIn.questionnaire, CheckIn.answered_at, CheckIn.subscales
    ).where(
        one_of(session, CheckIn.graduate_id, graduate_ids),
        CheckIn.questionnaire == "daily",
        CheckIn.answered_at >= now - timedelta(days=WINDOW_DAYS),
    )
    latest = (
        select(
            CheckIn.graduate_id,
            CheckIn.questionnaire,
            func.max(CheckIn.answered_at),
            null(),
        )
        .where(
            one_of(session, CheckIn.graduate_id, graduate_ids),
            CheckIn.answered_at >= now - LOOKBACK,
        )
        .group_by(CheckIn.graduate_id, CheckIn.questionnaire)
    )
    both = union_all(screens, latest).subquery()
    found: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in session.execute(select(both).order_by(both.c.answered_at)):
        found[row.graduate_id].append(row)
    return found


def intensity_flags(
    *, session: Session, graduate_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[Any]]:
    """The watch and step-up flags open at some time within REACH of `now`, per graduate
    (kind, source, raised_at, resolved_at): when month-1 intensity was in force."""
    found: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(Flag.graduate_id, Flag.kind, Flag.source, Flag.raised_at, Flag.resolved_at).where(
            one_of(session, Flag.graduate_id, list(graduate_ids)),
            Flag.kind.in_(INTENSIFYING),
            or_(Flag.resolved_at.is_(None), Flag.resolved_at >= now - REACH),
        )
    ):
        found[row.graduate_id].append(row)
    return found


def due_from(*, cadence: Cadence, recent: list[Any], now: datetime) -> list[dict[str, Any]]:
    """due() without the queries, so a planner can read many graduates at once: `recent`
    is one graduate's `recent_answers`."""
    days = cadence.day_of(now)
    if days < 0:
        return []
    found: dict[str, dict[str, Any]] = {}
    if not _answered_since(recent, "daily", cadence.midnight(days)):
        found["daily"] = _entry(
            "daily",
            cadence.date_of(days),
            cadence.midnight(days + 1),
            optional=not cadence.daily_expected(days),
            reason="scheduled",
        )
    for form in cadence.forms:
        for due_day in range(days, days - WINDOW_DAYS, -1):
            if not cadence.is_due(form, due_day):
                continue
            since, closes = cadence.window(form, due_day)
            if not _answered_since(recent, form, since):
                found[form] = _entry(
                    form, cadence.date_of(due_day), closes, optional=False, reason="scheduled"
                )
            break
    for screen, form in SCREENS.items():
        trigger = _latest_positive_screen(recent, screen, now)
        if form not in found and trigger is not None and not _answered_since(recent, form, trigger):
            found[form] = _entry(
                form,
                trigger.astimezone(cadence.zone).date(),
                trigger + timedelta(days=WINDOW_DAYS),
                optional=False,
                reason="screen",
            )
    return list(found.values())


def _entry(
    questionnaire: str, due_date: date, closes_at: datetime, *, optional: bool, reason: str
) -> dict[str, Any]:
    return {
        "questionnaire": questionnaire,
        "due_date": due_date,
        "closes_at": closes_at,
        "optional": optional,
        "reason": reason,
    }


def _answered_since(recent: Iterable[Any], questionnaire: str, since: datetime) -> bool:
    return any(row.questionnaire == questionnaire and row.answered_at >= since for row in recent)


def screened_positive(subscales: dict[str, Any] | None, screen: str) -> bool:
    """Whether a daily check-in's `screen` (PHQ-2 or GAD-2) calls for its full form."""
    return (subscales or {}).get(screen, 0) >= SCREEN_POSITIVE_AT


def _latest_positive_screen(recent: list[Any], screen: str, now: datetime) -> datetime | None:
    """When a daily check-in in the last 3 days last screened positive (≥3) on `screen`."""
    opened = now - timedelta(days=WINDOW_DAYS)
    positives = [
        row.answered_at
        for row in recent
        if row.questionnaire == "daily"
        and row.answered_at >= opened
        and screened_positive(row.subscales, screen)
    ]
    return positives[-1] if positives else None


def due_for(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> list[dict[str, Any]]:
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.CLINICAL,
        action="check_in.due",
        now=now,
    )
    return due(session=session, graduate=found.graduate, now=now, part2=found.sees_substance_use)
