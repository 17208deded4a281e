from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UUIDPrimaryKey


class Plan(UUIDPrimaryKey, Base):
    """A graduate's continuing-care plan: the sections kept as documents, and its version.

    Every change to any part of the plan (appointments, medications and skills included)
    bumps `version` and leaves a PlanChange behind.
    """

    __tablename__ = "plans"

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), unique=True)
    version: Mapped[int]
    warning_signs: Mapped[list[str]] = mapped_column(JSON)
    triggers: Mapped[list[str]] = mapped_column(JSON)
    safety_plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    step_down: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlanChange(UUIDPrimaryKey, Base):
    """Who changed which part of the plan, when, and what it was before and after."""

    __tablename__ = "plan_changes"
    __table_args__ = (UniqueConstraint("graduate_id", "version"),)

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"))
    version: Mapped[int]
    section: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[uuid.UUID | None]
    actor_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime]
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)


class Appointment(UUIDPrimaryKey, Base):
    """A booked appointment, possibly recurring (RFC 5545 RRULE) in its own time zone."""

    __tablename__ = "appointments"

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    clinician_name: Mapped[str] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(String(300))
    video_url: Mapped[str | None] = mapped_column(String(500))
    starts_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int]
    rrule: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]


class AppointmentReport(UUIDPrimaryKey, Base):
    """The graduate's word on one occurrence: attended, missed or rescheduled."""

    __tablename__ = "appointment_reports"
    __table_args__ = (UniqueConstraint("appointment_id", "occurrence_start"),)

    appointment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointments.id"))
    occurrence_start: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    reported_at: Mapped[datetime]


class Medication(UUIDPrimaryKey, Base):
    """Name and dose are the graduate's private data: never in a push, a feed or a log."""

    __tablename__ = "medications"

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    dose: Mapped[str | None] = mapped_column(String(120))
    managed_by: Mapped[str] = mapped_column(String(120))
    next_review_date: Mapped[date | None]
    created_at: Mapped[datetime]


class PlanSkill(UUIDPrimaryKey, Base):
    """A skill from the content library the graduate keeps practising, and how often."""

    __tablename__ = "plan_skills"
    __table_args__ = (
        UniqueConstraint("graduate_id", "skill_id"),
        CheckConstraint("target_per_week BETWEEN 1 AND 14", name="target_per_week_range"),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"))
    skill_id: Mapped[str] = mapped_column(String(80))
    target_per_week: Mapped[int]
    created_at: Mapped[datetime]


class SkillPractice(UUIDPrimaryKey, Base):
    __tablename__ = "skill_practice"
    __table_args__ = (
        Index("ix_skill_practice_graduate_id_practiced_at", "graduate_id", "practiced_at"),
        CheckConstraint("helpfulness BETWEEN 0 AND 10", name="helpfulness_range"),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"))
    skill_id: Mapped[str] = mapped_column(String(80))
    practiced_at: Mapped[datetime]
    done: Mapped[bool]
    helpfulness: Mapped[int | None]


class CalendarFeed(UUIDPrimaryKey, Base):
    """A secret, revocable iCalendar URL; only the token's hash is kept."""

    __tablename__ = "calendar_feeds"

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    show_place: Mapped[bool]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
