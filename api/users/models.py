from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UUIDPrimaryKey


class User(UUIDPrimaryKey, Base):
    """A person known by their Firebase uid and verified email."""

    __tablename__ = "users"

    firebase_uid: Mapped[str] = mapped_column(String(128), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime]
    # Tokens issued before this instant are refused (sign out everywhere).
    tokens_valid_after: Mapped[datetime | None]
    # When Firebase was last asked whether the account is disabled or its tokens revoked.
    account_checked_at: Mapped[datetime | None]
    # Console sessions issued up to this instant are refused: signing out of the console
    # ends the session on the server, so a copied cookie is worthless after it.
    console_signed_out_at: Mapped[datetime | None]
