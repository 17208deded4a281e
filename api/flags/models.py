from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UUIDPrimaryKey

# A flag is open until resolved: one open or acknowledged flag per graduate, kind and
# source (urgent excepted), enforced by the database so racing evaluations cannot double it.
ONE_OPEN = text("status <> 'resolved' AND kind <> 'urgent'")


class Flag(UUIDPrimaryKey, Base):
    """A signal that a graduate may need more support, explained and routed to a person."""

    __tablename__ = "flags"
    __table_args__ = (
        Index(
            "uq_flags_one_open_per_kind",
            "graduate_id",
            "kind",
            "source",
            unique=True,
            sqlite_where=ONE_OPEN,
            postgresql_where=ONE_OPEN,
        ),
        Index("ix_flags_program_id_status", "program_id", "status"),
        Index("ix_flags_graduate_id_kind_resolved_at", "graduate_id", "kind", "resolved_at"),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"))
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    kind: Mapped[str] = mapped_column(String(20))  # a FlagKind
    source: Mapped[str] = mapped_column(String(20))  # a FlagSource (substance_use: Part 2)
    status: Mapped[str] = mapped_column(String(20))  # a FlagStatus
    rule: Mapped[str] = mapped_column(String(60))
    rules_version: Mapped[str] = mapped_column(String(40))
    explanation: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(30))  # a FlagOutcome
    note: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[uuid.UUID | None]
    escalated_at: Mapped[datetime | None]
    # Urgent and step-up flags: "queued" when an alert to someone with a device or a
    # verified email was queued with the flag, "no_one_reached" otherwise (api.flags.alerts).
    alert_status: Mapped[str | None] = mapped_column(String(20))


class FlagEvent(Base):
    """Every state change of a flag: who, when, what; numbered in the order they happened."""

    __tablename__ = "flag_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    flag_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flags.id"), index=True)
    at: Mapped[datetime]
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class FlagRuleVersion(UUIDPrimaryKey, Base):
    """Every version of a program's step-up rules, kept so any flag's `rules_version` can be
    traced to the numbers that raised it."""

    __tablename__ = "flag_rule_versions"
    __table_args__ = (UniqueConstraint("program_id", "number"),)

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    number: Mapped[int]
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_at: Mapped[datetime]
    changed_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
