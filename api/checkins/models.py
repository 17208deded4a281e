from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UUIDPrimaryKey

IDEMPOTENCY_KEY_LENGTH = 200


class CheckIn(UUIDPrimaryKey, Base):
    """One answered questionnaire: item-level answers, the form version they answered, and
    the score computed then, so reading a history never needs re-scoring."""

    __tablename__ = "check_ins"
    __table_args__ = (
        Index("ix_check_ins_graduate_id_answered_at", "graduate_id", "answered_at"),
        Index(
            "ix_check_ins_graduate_id_questionnaire_answered_at",
            "graduate_id",
            "questionnaire",
            "answered_at",
        ),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"))
    questionnaire: Mapped[str] = mapped_column(String(20))
    form_version: Mapped[str] = mapped_column(String(20))
    answered_at: Mapped[datetime]
    submitted_at: Mapped[datetime]
    answers: Mapped[dict[str, int]] = mapped_column(JSON)
    score: Mapped[int | None]
    band: Mapped[str | None] = mapped_column(String(30))
    subscales: Mapped[dict[str, int] | None] = mapped_column(JSON)
    safety_positive: Mapped[bool]
    # 42 CFR Part 2: shared only under a consent that names substance-use records.
    part2: Mapped[bool]


class IdempotentRequest(UUIDPrimaryKey, Base):
    """A submission's key and first response, kept 24 hours so a retry writes nothing new."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("graduate_id", "key"),)

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id"))
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
