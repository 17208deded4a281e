"""Where a graduate is on the six-month timeline (DOMAIN.md), counted in their own time zone."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

# (phase id, first day, last day) after graduation; day 0 is graduation day.
PHASES = (("month1", 0, 30), ("months2_3", 31, 91), ("months4_6", 92, 183))
MAINTENANCE = "maintenance"


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def days_since_graduation(graduation_date: date, timezone: str, now: datetime) -> int:
    return (local_today(timezone, now) - graduation_date).days


def phase_for(days: int) -> str:
    """Before graduation the month-1 phase applies: the plan is being prepared for it."""
    for phase, _first, last in PHASES:
        if days <= last:
            return phase
    return MAINTENANCE


FULL_FORM_WINDOW_DAYS = 3
MONTHLY_DAYS = 28  # "monthly" after month 6, kept on the same weekday


def full_form_due_days(days: int, *, weekly_until: int) -> bool:
    """Whether day `days` after graduation is a due date: weekly, then fortnightly to day
    182, then every 4 weeks. Day 0 is the discharge baseline, never a due date."""
    if days <= 0:
        return False
    if days <= weekly_until:
        return days % 7 == 0
    if days <= 182:
        return days % 14 == 0
    return (days - 182) % MONTHLY_DAYS == 0


def scheduled_check_ins(
    *, graduation_date: date, timezone: str, substance_use: bool, now: datetime
) -> list[dict[str, object]]:
    """Check-ins whose window is open on the graduate's local day, by the default cadence.

    Daily: every day (expected in month 1, optional after). PHQ-9 and GAD-7: weekly in
    month 1, every 2 weeks to month 6, monthly after. BAM (substance-use care): weekly in
    months 1-3, every 2 weeks after. Full forms stay open 3 days from their due date.
    """
    zone = zoneinfo.ZoneInfo(timezone)
    today = local_today(timezone, now)
    days = (today - graduation_date).days
    if days < 0:
        return []
    due: list[dict[str, object]] = [
        {
            "questionnaire": "daily",
            "due_date": today,
            "closes_at": _local_midnight(today, 1, zone),
            "optional": phase_for(days) != "month1",
        }
    ]
    forms = [("phq9", 28), ("gad7", 28)] + ([("bam", 91)] if substance_use else [])
    for questionnaire, weekly_until in forms:
        for back in range(FULL_FORM_WINDOW_DAYS):
            if full_form_due_days(days - back, weekly_until=weekly_until):
                due_date = today - timedelta(days=back)
                due.append(
                    {
                        "questionnaire": questionnaire,
                        "due_date": due_date,
                        "closes_at": _local_midnight(due_date, FULL_FORM_WINDOW_DAYS, zone),
                        "optional": False,
                    }
                )
                break
    return due


def _local_midnight(day: date, days_later: int, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=days_later), time(), tzinfo=zone).astimezone(UTC)
