from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UUIDPrimaryKey
from api.users.models import User


class Role(enum.StrEnum):
    STAFF = "staff"
    THERAPIST = "therapist"
    COORDINATOR = "coordinator"


def default_crisis_lines() -> list[dict[str, Any]]:
    return [
        {"name": "988 Suicide & Crisis Lifeline (call or text)", "phone": "988", "text": "988"},
        {"name": "Emergency services", "phone": "911", "text": None},
    ]


class Program(UUIDPrimaryKey, Base):
    """A treating IOP program; every record hangs off exactly one."""

    __tablename__ = "programs"

    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    # Shown on every crisis path: [{"name", "phone", "text"}]; defaults to 988 and 911.
    crisis_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=default_crisis_lines)
    created_at: Mapped[datetime]
    # The step-up rules in force (api.flags.rules.Rules settings); null means DOMAIN.md's
    # defaults. Kept here so sign-in's program row carries them; history in flag_rule_versions.
    flag_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flag_rules_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Retention (api.privacy): days between a deletion request and erasure; days the inbox
    # keeps a delivered notification; years an erased graduate's de-identified clinical
    # record is kept before it is purged.
    deletion_grace_days: Mapped[int] = mapped_column(default=30, server_default="30")
    inbox_retention_days: Mapped[int] = mapped_column(default=180, server_default="180")
    clinical_retention_years: Mapped[int] = mapped_column(default=7, server_default="7")
    # Alerts (api.flags.alerts): the program's zone (null: where most of its graduates
    # live) and working hours {"start", "end", "days"} (null: 08:00-18:00, Monday-Friday).
    timezone: Mapped[str | None] = mapped_column(String(64))
    working_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Membership(UUIDPrimaryKey, Base):
    """A role in a program, granted by email and claimed at first verified sign-in."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("program_id", "email", "role"),)

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="member_role",
            native_enum=False,
            length=20,
            values_callable=lambda roles: [r.value for r in roles],
        )
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]

    user: Mapped[User | None] = relationship(lazy="joined")
