"""Devices that receive pushes, and notifications: the outbox dispatchers drain and the inbox.

A notification is planned once (unique per recipient, kind, subject and due time, so a
planner that runs twice inserts nothing), claimed by one dispatcher at a time, and ends
in exactly one final status. Title and body are generic text chosen by kind
(`api.notifications.texts`): a push is shown on a lock screen, so no health information.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UUIDPrimaryKey
from api.users.models import User
from api.vocabulary import NotificationKind

PLATFORMS = ("android", "ios", "web")
KINDS = tuple(NotificationKind)
# These go to the person's verified email channel, not to their devices, and are not in
# the inbox (the inbox already has the push kind of the same thing).
EMAIL_KINDS = (NotificationKind.ALERT_EMAIL, NotificationKind.SUMMARY_READY_EMAIL)
ALERT_KINDS = (NotificationKind.ALERT, NotificationKind.ALERT_EMAIL)
# The priority lane: dispatchers claim lower numbers first, so an alert raised while the
# 09:00 reminders drain is in the very next batch.
ALERT_PRIORITY, DEFAULT_PRIORITY = 0, 1


class Device(UUIDPrimaryKey, Base):
    """A phone or browser that receives one person's pushes, by its FCM registration token."""

    __tablename__ = "devices"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token: Mapped[str] = mapped_column(String(1024), unique=True)
    platform: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class Notification(Base):
    """One thing to tell one person at one time: outbox row until final, inbox entry after.

    On PostgreSQL the table is partitioned by month of due_at (`partitions`), and a
    partitioned table's keys must hold due_at: the primary key is (id, due_at), while the
    ORM still knows a row by its id alone (a random UUID; nothing refers to it by key)."""

    __tablename__ = "notifications"
    __table_args__ = (
        PrimaryKeyConstraint("id", "due_at"),
        UniqueConstraint("user_id", "kind", "subject", "due_at"),
        # Dispatchers claim `pending` rows whose next attempt is due, alerts first, then
        # oldest first: one index scan in that order, stopped by the batch's LIMIT.
        Index(
            "ix_notifications_status_priority_next_attempt_at",
            "status",
            "priority",
            "next_attempt_at",
        ),
        # A newer row of the same collapse key supersedes older ones; the inbox reads by user.
        Index("ix_notifications_user_id_collapse_key_due_at", "user_id", "collapse_key", "due_at"),
        Index("ix_notifications_user_id_due_at", "user_id", "due_at"),
        {"postgresql_partition_by": "RANGE (due_at)"},
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    graduate_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("graduates.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # a NotificationKind
    # Opaque: what it is about ("phq9:2026-11-23", an appointment occurrence, a flag id).
    subject: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    # Not sent after this instant (e.g. when quiet hours start): recorded as `expired`.
    expires_at: Mapped[datetime | None]
    collapse_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(240))
    link: Mapped[str | None] = mapped_column(String(200))  # opaque deep-link id
    status: Mapped[str] = mapped_column(String(12))  # a NotificationStatus
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claim_expires_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # "push" when a device accepted it, "inbox" when the person has no device left.
    delivered_via: Mapped[str | None] = mapped_column(String(10))
    last_error: Mapped[str | None] = mapped_column(String(200))  # an error code, never a token
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(
        SmallInteger, default=DEFAULT_PRIORITY, server_default=str(DEFAULT_PRIORITY)
    )
    # An alert someone has taken (acknowledged the flag): everyone alerted sees who.
    taken_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    taken_by: Mapped[User | None] = relationship(foreign_keys=[taken_by_user_id], lazy="joined")


class EmailChannel(UUIDPrimaryKey, Base):
    """A clinician's second channel: alerts and notices also go to this address once the
    person has proved it is theirs with the code sent to it."""

    __tablename__ = "email_channels"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    verified_at: Mapped[datetime | None]
    code_digest: Mapped[str | None] = mapped_column(String(64))  # sha256 of the code
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
