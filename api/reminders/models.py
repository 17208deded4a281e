"""A graduate's reminder preferences: when, how many, which kinds, and for now none at all.

A graduate without a row gets DEFAULTS; the planner reads both the same way (`effective`).
Times are local wall-clock "HH:MM" in the graduate's own zone, so a zone change or a DST
change keeps a 09:00 reminder at 09:00.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.vocabulary import NotificationKind

# What a graduate can switch on and off; each covers these notification kinds.
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "skill_practice": (NotificationKind.SKILL_PRACTICE,),
    "check_in": (NotificationKind.CHECK_IN_DUE, NotificationKind.CHECK_IN_NUDGE),
    "appointment": (NotificationKind.APPOINTMENT_BEFORE, NotificationKind.APPOINTMENT_FOLLOWUP),
    "group": (NotificationKind.GROUP_MEETING,),
}
MAX_DAILY_CAP = 20


class ReminderPreferences(Base):
    """One row per graduate, made with the defaults the first time the planner or the
    graduate touches it. `snoozes` maps "all" or a KIND_GROUPS key to
    {"at": ISO instant the snooze was asked, "until": ISO instant}."""

    __tablename__ = "reminder_preferences"
    __table_args__ = (
        CheckConstraint(f"daily_cap BETWEEN 0 AND {MAX_DAILY_CAP}", name="daily_cap_range"),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), primary_key=True)
    skill_times: Mapped[list[str]] = mapped_column(JSON)
    quiet_start: Mapped[str] = mapped_column(String(5))
    quiet_end: Mapped[str] = mapped_column(String(5))
    # 0: no reminders at all (nothing is planned, so nothing reaches the inbox either).
    daily_cap: Mapped[int]
    kinds: Mapped[dict[str, bool]] = mapped_column(JSON)
    maintenance_weekly: Mapped[bool]  # after month 6, a weekly skill nudge only if wanted
    appointment_lead_minutes: Mapped[list[int]] = mapped_column(JSON)
    paused_until: Mapped[datetime | None]
    snoozes: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class ReminderPlanning(Base):
    """When the planner next has to look at one graduate (api/reminders/visits.py).

    `due_at`: the moment their planning window gains a slot, or a day boundary; marked
    at once when something the planner reads changes. `changes` counts those marks, so
    the planner never stores a later visit over a mark that came in while it was planning."""

    __tablename__ = "reminder_planning"

    graduate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("graduates.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(index=True)
    changes: Mapped[int]


DEFAULTS: dict[str, Any] = {
    "skill_times": ["09:00"],
    "quiet_start": "21:00",
    "quiet_end": "08:00",
    "daily_cap": 4,
    "kinds": {kind: True for kind in KIND_GROUPS},
    "maintenance_weekly": False,
    "appointment_lead_minutes": [1440, 120],
    "paused_until": None,
    "snoozes": {},
}


def default_row(graduate_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """Column values for a graduate who has not chosen anything yet."""
    return {
        "graduate_id": graduate_id,
        **{key: _copy(value) for key, value in DEFAULTS.items()},
        "updated_at": now,
    }


def _copy(value: Any) -> Any:
    return (
        dict(value)
        if isinstance(value, dict)
        else list(value)
        if isinstance(value, list)
        else value
    )
