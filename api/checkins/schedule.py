"""Which check-ins are due now, by DOMAIN.md's cadence, in the graduate's own day.

Daily: every day (expected in month 1, optional after). PHQ-9 and GAD-7: weekly in month 1,
every 2 weeks to month 6, every 4 weeks after. BAM (substance-use care): weekly in months
1-3, every 2 weeks after. Due dates count from graduation day (day 0, the discharge
baseline). A full form stays open 3 days from its due date; any answer after the previous
due date satisfies the next, so answering early is never a miss. A positive PHQ-2 or GAD-2
in the daily check-in makes the full form due now. While a watch or step-up flag is open,
month-1 intensity returns: daily expected, every full form weekly.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, null, select, union_all
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.checkins.models import CheckIn
from api.db import one_of
from api.flags.models import Flag
from api.graduates.models import Graduate
from api.timeline import local_today, phase_for

WINDOW_DAYS = 3
EVERY_FOUR_WEEKS = 28
FULL_FORMS = {"phq9": 28, "gad7": 28, "bam": 91}  # form -> last day of its weekly cadence
SCREENS = {"phq2": "phq9", "gad2": "gad7"}  # daily subscale -> the full form it calls for
SCREEN_POSITIVE_AT = 3
LOOKBACK = timedelta(days=60)  # longer than any gap between due dates


def is_due_date(days: int, *, weekly_until: int) -> bool:
    if days <= 0:
        return False
    if days <= weekly_until:
        return days % 7 == 0
    if days <= 182:
        return days % 14 == 0
    return (days - 182) % EVERY_FOUR_WEEKS == 0


def previous_due_day(days: int, *, weekly_until: int) -> int:
    """The due date before day `days`, or 0 (graduation) if there is none."""
    day = days - 1
    while day > 0 and not is_due_date(day, weekly_until=weekly_until):
        day -= 1
    return max(day, 0)


def due(*, session: Session, graduate: Graduate, now: datetime) -> list[dict[str, Any]]:
    if local_today(graduate.timezone, now) < graduate.graduation_date:
        return []
    recent = recent_answers(session=session, graduate_ids=[graduate.id], now=now)
    intensified = graduate.id in intensified_ids(session=session, graduate_ids=[graduate.id])
    return due_from(
        graduate=graduate, recent=recent.get(graduate.id, []), intensified=intensified, now=now
    )


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


def intensified_ids(*, session: Session, graduate_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Graduates with an open watch or step-up: month-1 intensity until a clinician closes it."""
    return set(
        session.scalars(
            select(Flag.graduate_id)
            .where(
                one_of(session, Flag.graduate_id, list(graduate_ids)),
                Flag.kind.in_(("watch", "step_up")),
                Flag.status.in_(("open", "acknowledged")),
            )
            .distinct()
        )
    )


def due_from(
    *, graduate: Graduate, recent: list[Any], intensified: bool, now: datetime
) -> list[dict[str, Any]]:
    """due() without the queries, so a planner can read many graduates at once: `recent`
    is one graduate's `recent_answers`."""
    today = local_today(graduate.timezone, now)
    days = (today - graduate.graduation_date).days
    if days < 0:
        return []
    zone = zoneinfo.ZoneInfo(graduate.timezone)
    found: dict[str, dict[str, Any]] = {}
    if not _answered_since(recent, "daily", midnight(today, zone)):
        found["daily"] = _entry(
            "daily",
            today,
            midnight(today + timedelta(days=1), zone),
            optional=phase_for(days) != "month1" and not intensified,
            reason="scheduled",
        )
    forms = [form for form in FULL_FORMS if form != "bam" or graduate.substance_use]
    for form in forms:
        weekly_until = days if intensified else FULL_FORMS[form]
        for back in range(WINDOW_DAYS):
            due_day = days - back
            if not is_due_date(due_day, weekly_until=weekly_until):
                continue
            since = satisfied_from(graduate.graduation_date, due_day, weekly_until, zone)
            if not _answered_since(recent, form, since):
                due_date = graduate.graduation_date + timedelta(days=due_day)
                found[form] = _entry(
                    form,
                    due_date,
                    midnight(due_date + timedelta(days=WINDOW_DAYS), zone),
                    optional=False,
                    reason="scheduled",
                )
            break
    for screen, form in SCREENS.items():
        trigger = _latest_positive_screen(recent, screen, now)
        if form not in found and trigger is not None and not _answered_since(recent, form, trigger):
            found[form] = _entry(
                form,
                trigger.astimezone(zone).date(),
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


def _latest_positive_screen(recent: list[Any], screen: str, now: datetime) -> datetime | None:
    """When a daily check-in in the last 3 days last screened positive (≥3) on `screen`."""
    opened = now - timedelta(days=WINDOW_DAYS)
    positives = [
        row.answered_at
        for row in recent
        if row.questionnaire == "daily"
        and row.answered_at >= opened
        and (row.subscales or {}).get(screen, 0) >= SCREEN_POSITIVE_AT
    ]
    return positives[-1] if positives else None


def satisfied_from(
    graduation_date: date, due_day: int, weekly_until: int, zone: zoneinfo.ZoneInfo
) -> datetime:
    """Any answer from the day after the previous due date on satisfies this due date."""
    previous = previous_due_day(due_day, weekly_until=weekly_until)
    return midnight(graduation_date + timedelta(days=previous + 1), zone)


def midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def due_for(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> list[dict[str, Any]]:
    graduate = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.CLINICAL,
        action="check_in.due",
        now=now,
    ).graduate
    return due(session=session, graduate=graduate, now=now)
