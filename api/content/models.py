from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UUIDPrimaryKey


class ContentKind(enum.StrEnum):
    SKILL = "skill"
    CARD = "card"


class ProgramContent(UUIDPrimaryKey, Base):
    """A program's change to the library, without forking the files: a library item hidden
    for its callers, or the program's own skill (`custom`, the fields of a skill file)."""

    __tablename__ = "program_content"
    __table_args__ = (UniqueConstraint("program_id", "kind", "content_id"),)

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    kind: Mapped[ContentKind] = mapped_column(
        Enum(
            ContentKind,
            name="content_kind",
            native_enum=False,
            length=10,
            values_callable=lambda kinds: [k.value for k in kinds],
        )
    )
    content_id: Mapped[str] = mapped_column(String(64))
    hidden: Mapped[bool]
    # A program's own skill: {"id", "version", "title", ..., "body"}; null for a library item.
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def source(self) -> str:
        return "library" if self.custom is None else "program"
