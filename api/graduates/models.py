from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UUIDPrimaryKey
from api.programs.models import Membership


class Graduate(UUIDPrimaryKey, Base):
    """A person who finished the program, with the facts their continuing care starts from."""

    __tablename__ = "graduates"
    __table_args__ = (
        CheckConstraint("baseline_phq9 BETWEEN 0 AND 27", name="baseline_phq9_range"),
        CheckConstraint("baseline_gad7 BETWEEN 0 AND 21", name="baseline_gad7_range"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    # A person is a graduate of one program at a time.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    graduation_date: Mapped[date]
    timezone: Mapped[str] = mapped_column(String(64))
    substance_use: Mapped[bool]
    baseline_phq9: Mapped[int]
    baseline_gad7: Mapped[int]
    created_at: Mapped[datetime]
    # Any request the graduate makes, to the hour: the disengagement rule reads it.
    last_active_at: Mapped[datetime | None]
    # Account deletion (api.privacy): asked for, due after the program's grace period, done.
    deletion_requested_at: Mapped[datetime | None]
    erase_after: Mapped[datetime | None] = mapped_column(index=True)
    erased_at: Mapped[datetime | None]


class CareTeamMember(UUIDPrimaryKey, Base):
    """A program member (usually the outpatient therapist) on one graduate's care team."""

    __tablename__ = "care_team_members"
    __table_args__ = (UniqueConstraint("graduate_id", "membership_id"),)

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    membership_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memberships.id"), index=True)
    created_at: Mapped[datetime]

    membership: Mapped[Membership] = relationship(lazy="joined")


class EnrollmentCode(UUIDPrimaryKey, Base):
    """A single-use code that links a signed-in person to a graduate record; stored hashed."""

    __tablename__ = "enrollment_codes"

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Consent(UUIDPrimaryKey, Base):
    """What a graduate shares with one therapist; deleting the row withdraws it at once."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("graduate_id", "therapist_user_id"),)

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    therapist_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    share_check_ins: Mapped[bool]
    # 42 CFR Part 2: substance-use records need a consent that names them.
    share_substance_use: Mapped[bool]
    granted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
