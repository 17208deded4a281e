"""A person's devices: registered by the app, moved when a token changes hands, dropped on
sign-out everywhere or when FCM says the token is dead."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from api.db import rowcount
from api.notifications.models import Device


def register(
    *, session: Session, user_id: uuid.UUID, token: str, platform: str, now: datetime
) -> Device:
    """Idempotent; a token already registered to someone else moves to the caller (a phone
    handed on, or an account switch: the token follows whoever signed in last)."""
    device = session.scalar(select(Device).where(Device.token == token))
    if device is None:
        device = Device(
            user_id=user_id, token=token, platform=platform, created_at=now, last_seen_at=now
        )
        session.add(device)
    else:
        if device.user_id != user_id:
            device.user_id = user_id
            device.created_at = now
        device.platform = platform
        device.last_seen_at = now
    session.flush()
    return device


def unregister(*, session: Session, user_id: uuid.UUID, token_or_id: str) -> int:
    """Only the caller's own device; anything else is quietly a no-op (DELETE is idempotent,
    and whether a token exists elsewhere is not the caller's business)."""
    match = [Device.token == token_or_id]
    with contextlib.suppress(ValueError):  # not an id: a token only
        match.append(Device.id == uuid.UUID(token_or_id))
    result = session.execute(
        delete(Device).where(Device.user_id == user_id, or_(*match)),
        execution_options={"synchronize_session": False},
    )
    return rowcount(result)


def unregister_all(*, session: Session, user_id: uuid.UUID) -> int:
    """Sign-out everywhere: no more pushes to any of this person's devices."""
    result = session.execute(
        delete(Device).where(Device.user_id == user_id),
        execution_options={"synchronize_session": False},
    )
    return rowcount(result)
