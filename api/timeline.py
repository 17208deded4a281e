"""Where a graduate is on the six-month timeline (DOMAIN.md), counted in their own time zone."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

# (phase id, first day, last day) after graduation; day 0 is graduation day.
PHASES = (("month1", 0, 30), ("months2_3", 31, 91), ("months4_6", 92, 183))
MAINTENANCE = "maintenance"


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def phase_for(days: int) -> str:
    """Before graduation the month-1 phase applies: the plan is being prepared for it."""
    for phase, _first, last in PHASES:
        if days <= last:
            return phase
    return MAINTENANCE
