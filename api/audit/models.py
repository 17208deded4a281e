from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UUIDPrimaryKey


class AuditEvent(UUIDPrimaryKey, Base):
    """Who read or changed which graduate's record, when, and how it ended; never the content.

    Append-only: the migration adds triggers that refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_program_id_occurred_at", "program_id", "occurred_at"),
        Index("ix_audit_events_graduate_id_occurred_at", "graduate_id", "occurred_at"),
    )

    occurred_at: Mapped[datetime]
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64))
    program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programs.id"))
    graduate_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("graduates.id"))
    route: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(64))
