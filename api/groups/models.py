"""Alumni and aftercare groups: meetings on a recurrence, seats, RSVPs, attendance, news.

An occurrence is known by its original start (UTC), so a moved or cancelled meeting,
its RSVPs and its attendance keep one key whatever happens to the recurrence rule.
"""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from api.db import Base, UUIDPrimaryKey
from api.graduates.models import Graduate

KINDS = ("aftercare", "alumni", "topic")
MODES = ("in_person", "video")
MEMBER, WAITLISTED = "member", "waitlisted"
ATTENDANCE = ("present", "absent", "excused")
MAX_CAPACITY = 500


class Group(UUIDPrimaryKey, Base):
    """A group the program's coordinators run; its meetings repeat on the wall clock of its zone."""

    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint(f"capacity BETWEEN 1 AND {MAX_CAPACITY}", name="capacity_range"),
        CheckConstraint("duration_minutes BETWEEN 10 AND 480", name="duration_range"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(300))
    video_url: Mapped[str | None] = mapped_column(String(500))
    capacity: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    facilitator: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]  # the first meeting, as an instant
    duration_minutes: Mapped[int]
    rrule: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]
    if TYPE_CHECKING:
        seats_taken: Mapped[int]  # a column_property, mapped below once GroupMember exists

    @property
    def starts_at_local(self) -> datetime:
        return self.starts_at.astimezone(zoneinfo.ZoneInfo(self.timezone)).replace(tzinfo=None)

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.seats_taken, 0)


class GroupMember(Base):
    """A graduate in a group, seated or waitlisted (numbered in the order they asked).

    A seated member holds a seat number from 1 to the group's capacity and no two members
    hold the same seat: when two people take the last seat at once, the unique constraint
    decides and the loser is waitlisted. Leaving deletes the row: no reason is kept.
    """

    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "graduate_id"),
        UniqueConstraint("group_id", "seat"),
        CheckConstraint("seat >= 1", name="seat_positive"),
        CheckConstraint(
            "(status = 'member' AND seat IS NOT NULL) OR (status = 'waitlisted' AND seat IS NULL)",
            name="seat_matches_status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"))
    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    seat: Mapped[int | None]
    # Peer privacy: other members see this member's display name only if they opt in.
    share_name: Mapped[bool]
    joined_at: Mapped[datetime]

    graduate: Mapped[Graduate] = relationship(lazy="joined")


Group.seats_taken = column_property(
    select(func.count(GroupMember.id))
    .where(GroupMember.group_id == Group.id, GroupMember.seat.is_not(None))
    .correlate_except(GroupMember)
    .scalar_subquery()
)


class GroupOccurrenceChange(UUIDPrimaryKey, Base):
    """One meeting cancelled, or moved in time or place, keyed by its original start."""

    __tablename__ = "group_occurrence_changes"
    __table_args__ = (UniqueConstraint("group_id", "original_start"),)

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"))
    original_start: Mapped[datetime]
    cancelled: Mapped[bool]
    starts_at: Mapped[datetime | None]
    duration_minutes: Mapped[int | None]
    location: Mapped[str | None] = mapped_column(String(300))
    video_url: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime]


class GroupRsvp(UUIDPrimaryKey, Base):
    __tablename__ = "group_rsvps"
    __table_args__ = (UniqueConstraint("group_id", "occurrence_start", "graduate_id"),)

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"))
    occurrence_start: Mapped[datetime]
    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"), index=True)
    going: Mapped[bool]
    responded_at: Mapped[datetime]


class GroupAttendance(UUIDPrimaryKey, Base):
    """Who came to one meeting, as the coordinator recorded it; the flag rules read it."""

    __tablename__ = "group_attendance"
    __table_args__ = (
        UniqueConstraint("group_id", "occurrence_start", "graduate_id"),
        Index("ix_group_attendance_graduate_id_group_id", "graduate_id", "group_id"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"))
    occurrence_start: Mapped[datetime]
    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"))
    status: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]

    graduate: Mapped[Graduate] = relationship(lazy="joined")  # the register names members


class GroupAnnouncement(UUIDPrimaryKey, Base):
    """Full text in the app; a push (wired elsewhere) carries only generic words."""

    __tablename__ = "group_announcements"
    __table_args__ = (
        Index("ix_group_announcements_group_id_created_at", "group_id", "created_at"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class GroupCoordinator(Base):
    """A coordinator staff assigned to run this group. A group with none is run by every
    coordinator of its program; once it has some, only they (and staff) run it."""

    __tablename__ = "group_coordinators"

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memberships.id"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]


class GroupCalendarFeed(UUIDPrimaryKey, Base):
    """A secret, revocable iCalendar URL: one graduate's groups, or one group's meetings.

    Only the token's hash is kept. The feed works while its owner may still see what it shows.
    """

    __tablename__ = "group_calendar_feeds"
    __table_args__ = (
        CheckConstraint("(graduate_id IS NULL) <> (group_id IS NULL)", name="one_subject"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    graduate_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("graduates.id"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("groups.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    show_place: Mapped[bool]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
