from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UUIDPrimaryKey


class SummaryPreference(UUIDPrimaryKey, Base):
    """When a therapist wants their weekly summaries: a weekday and a local time in a zone.

    No row means the defaults (Monday 08:00 in the zone most of their caseload lives in).
    """

    __tablename__ = "summary_preferences"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),)

    therapist_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    weekday: Mapped[int]  # 0 = Monday, as Python's date.weekday()
    local_time: Mapped[time]
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class SummaryRun(UUIDPrimaryKey, Base):
    """One therapist-week: the unique key makes a re-run of the weekly job build nothing twice."""

    __tablename__ = "summary_runs"
    __table_args__ = (UniqueConstraint("therapist_user_id", "week_of"),)

    therapist_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    week_of: Mapped[date]  # the therapist's local date of the scheduled slot
    built_at: Mapped[datetime]
    summaries: Mapped[int]
    # Set once the "summaries are ready" notice has been handed to delivery.
    noticed_at: Mapped[datetime | None]


class Summary(UUIDPrimaryKey, Base):
    """One graduate's week for one therapist, built once and stored so reading is cheap and
    stable. The substance-use part sits under its own key and is dropped at read time when
    the Part 2 consent is gone."""

    __tablename__ = "summaries"
    __table_args__ = (
        UniqueConstraint("therapist_user_id", "graduate_id", "week_of"),
        Index("ix_summaries_therapist_user_id_built_at", "therapist_user_id", "built_at"),
    )

    therapist_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    week_of: Mapped[date]
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    built_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    headline: Mapped[str] = mapped_column(String(200))
    headline_rule: Mapped[str] = mapped_column(String(40))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
