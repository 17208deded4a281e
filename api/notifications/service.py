"""The outbox, for planners; the inbox, for routes. Keyword-only, no HTTP.

For the planner (api/reminders, flags, groups), exactly these:

    from api.notifications.service import Planned, enqueue, cancel

    enqueue(session, *, items: Sequence[Planned], now: datetime) -> int
        Inserts the items as `pending` rows; returns how many were new. The key
        (user_id, kind, subject, due_at) is unique and the insert is
        INSERT … ON CONFLICT DO NOTHING, so planning the same thing twice (a second
        scheduler, a restart mid-run) inserts nothing. Title and body come from the kind
        (`api.notifications.texts`); callers cannot pass text.

    Planned(user_id, kind, subject, due_at, *, graduate_id=None, expires_at=None,
            collapse_key=None, link=None)
        kind: one of models.KINDS. subject: what it is about ("phq9:2026-11-23", an
        appointment occurrence id, a flag id); stays in our database, never sent.
        link: sent as is in the push's data, so an opaque id only (no names, no words).
        expires_at: not sent after this (e.g. when quiet hours start); a row still
        undelivered then is recorded as `expired`. collapse_key (default: the kind): when a
        row falls due, older undelivered rows of the same (user_id, collapse_key) are
        `superseded` (one "you have a check-in", not three after an outage); the phone
        also replaces the shown push (FCM collapse key / apns-collapse-id, sent only as
        a digest). Rows planned ahead for later slots are not touched until a newer one
        is due.

    cancel(session, *, user_id=None, graduate_id=None, kind=None, subject=None) -> int
        Cancels pending rows (a completed task cancels its reminders) of that user or
        graduate; `kind` may be one kind or several, None for all; `subject` None for
        all subjects. Rows already claimed by a dispatcher are in flight and left alone.

Delivery is `api.notifications.dispatch`; devices are `api.notifications.devices`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, aliased

from api import access
from api.auth import Actor
from api.db import rowcount
from api.errors import NotFound
from api.notifications.models import (
    ALERT_KINDS,
    ALERT_PRIORITY,
    DEFAULT_PRIORITY,
    EMAIL_KINDS,
    KINDS,
    Notification,
)
from api.notifications.texts import TEXTS
from api.vocabulary import NotificationStatus

# The inbox shows what was meant to reach the person by now, even if the push was lost
# (failed: FCM kept refusing; sent via "inbox": they had no device).
SHOWN = (NotificationStatus.SENT, NotificationStatus.FAILED)
ROWS_PER_STATEMENT = 1000
UNIQUE_KEY = ("user_id", "kind", "subject", "due_at")
# Alerts jump the queue (the dispatchers' priority lane); the kind decides, not the caller.
PRIORITY: dict[str, int] = {
    kind: ALERT_PRIORITY if kind in ALERT_KINDS else DEFAULT_PRIORITY for kind in KINDS
}


@dataclass(frozen=True)
class Planned:
    """One notification a planner wants delivered; see the module docstring."""

    user_id: uuid.UUID
    kind: str
    subject: str
    due_at: datetime
    graduate_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    collapse_key: str | None = None
    link: str | None = None


def enqueue(session: Session, *, items: Sequence[Planned], now: datetime) -> int:
    """Insert what is not planned yet; how many rows were new."""
    for item in items:
        _check(item)
    if not items:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _insert_postgresql(session, items, now)
    rows = [_row(item, now) for item in items]
    return sum(
        _insert(session, rows[start : start + ROWS_PER_STATEMENT])
        for start in range(0, len(rows), ROWS_PER_STATEMENT)
    )


def _insert(session: Session, rows: list[dict[str, Any]]) -> int:
    statement = (
        sqlite.insert(Notification)
        .on_conflict_do_nothing(index_elements=list(UNIQUE_KEY))
        .returning(Notification.id)
    )
    return len(session.execute(statement, rows).all())


# One statement per batch: arrays of the columns, unnested into rows. Binding a few
# arrays is far cheaper than thousands of placeholders or a round trip per row, and in
# binary (%b) psycopg skips quoting every element as text. Ids are made by the database
# and title and body joined in by kind, so per row we send only what the planner chose.
_UNNEST_COLUMNS = (
    ("user_id", "uuid"),
    ("graduate_id", "uuid"),
    ("kind", "text"),
    ("subject", "text"),
    ("due_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("collapse_key", "text"),
    ("link", "text"),
)
_UNNEST_INSERT = (
    f"INSERT INTO {Notification.__tablename__} "
    f"(id, {', '.join(name for name, _ in _UNNEST_COLUMNS)}, title, body, priority, status, "
    "attempts, next_attempt_at, created_at) "
    "SELECT gen_random_uuid(), t.*, texts.title, texts.body, texts.priority, 'pending', 0, "
    "t.due_at, %(now)s "
    "FROM unnest("
    + ", ".join(f"%({name})b::{kind}[]" for name, kind in _UNNEST_COLUMNS)
    + f") AS t({', '.join(name for name, _ in _UNNEST_COLUMNS)}) "
    "JOIN unnest(%(text_kinds)s::text[], %(titles)s::text[], %(bodies)s::text[], "
    "%(priorities)s::smallint[]) AS texts(kind, title, body, priority) ON texts.kind = t.kind "
    f"ON CONFLICT ({', '.join(UNIQUE_KEY)}) DO NOTHING"
)
_TEXTS = {
    "text_kinds": list(TEXTS),
    "titles": [title for title, _ in TEXTS.values()],
    "bodies": [body for _, body in TEXTS.values()],
    "priorities": [PRIORITY[kind] for kind in TEXTS],
}
UNNEST_ROWS = 5000


def _insert_postgresql(session: Session, items: Sequence[Planned], now: datetime) -> int:
    session.flush()  # rows this refers to (users, graduates) may still be pending
    inserted = 0
    for start in range(0, len(items), UNNEST_ROWS):
        chunk = items[start : start + UNNEST_ROWS]
        arrays: dict[str, Any] = {
            "user_id": [item.user_id for item in chunk],
            "graduate_id": [item.graduate_id for item in chunk],
            "kind": [item.kind for item in chunk],
            "subject": [item.subject for item in chunk],
            "due_at": [item.due_at for item in chunk],
            "expires_at": [item.expires_at for item in chunk],
            "collapse_key": [item.collapse_key or item.kind for item in chunk],
            "link": [item.link for item in chunk],
            "now": now,
            **_TEXTS,
        }
        inserted += session.connection().exec_driver_sql(_UNNEST_INSERT, arrays).rowcount
    return inserted


def _check(item: Planned) -> None:
    if item.kind not in KINDS:
        raise ValueError(f"unknown notification kind {item.kind!r}")
    if item.due_at.tzinfo is None or (item.expires_at and item.expires_at.tzinfo is None):
        raise ValueError("due_at and expires_at must be aware datetimes")


def _row(item: Planned, now: datetime) -> dict[str, Any]:
    title, body = TEXTS[item.kind]
    return {
        "id": uuid.uuid4(),
        "user_id": item.user_id,
        "graduate_id": item.graduate_id,
        "kind": item.kind,
        "subject": item.subject,
        "due_at": item.due_at,
        "expires_at": item.expires_at,
        "collapse_key": item.collapse_key or item.kind,
        "title": title,
        "body": body,
        "link": item.link,
        "priority": PRIORITY[item.kind],
        "status": NotificationStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": item.due_at,
        "created_at": now,
    }


def cancel(
    session: Session,
    *,
    user_id: uuid.UUID | None = None,
    graduate_id: uuid.UUID | None = None,
    kind: str | Iterable[str] | None = None,
    subject: str | None = None,
) -> int:
    """Cancel pending rows of one user or graduate; how many were cancelled."""
    if (user_id is None) == (graduate_id is None):
        raise ValueError("cancel needs exactly one of user_id and graduate_id")
    statement = update(Notification).where(Notification.status == NotificationStatus.PENDING)
    if user_id is not None:
        statement = statement.where(Notification.user_id == user_id)
    else:
        statement = statement.where(Notification.graduate_id == graduate_id)
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        statement = statement.where(Notification.kind.in_(kinds))
    if subject is not None:
        statement = statement.where(Notification.subject == subject)
    result = session.execute(
        statement.values(status=NotificationStatus.CANCELLED, claimed_by=None, last_error=None),
        execution_options={"synchronize_session": False},
    )
    return rowcount(result)


def inbox(*, user_id: uuid.UUID, now: datetime) -> Select[Notification]:
    """What reached (or was meant to reach) this person by now, newest first. Reminders of
    one kind due at one moment (two forms opening together) read the same and went out as
    one push, so the inbox shows them once."""
    twin = aliased(Notification)
    earlier_twin = (
        select(twin.id)
        .where(
            twin.user_id == Notification.user_id,
            twin.kind == Notification.kind,
            twin.collapse_key == Notification.collapse_key,
            twin.title == Notification.title,
            twin.body == Notification.body,
            twin.due_at == Notification.due_at,
            twin.status.in_(SHOWN),
            twin.id < Notification.id,
        )
        .exists()
    )
    return (
        select(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.status.in_(SHOWN),
            Notification.due_at <= now,
            ~earlier_twin,
            Notification.kind.not_in(EMAIL_KINDS),
        )
        .order_by(Notification.due_at.desc(), Notification.id)
    )


def graduate_inbox(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> Select[Notification]:
    """A graduate's own inbox: theirs alone; staff and therapists have their own."""
    _own(session, actor, graduate_id, "notification.list", now)
    return inbox(user_id=actor.user_id, now=now)


def mark_read(
    *,
    session: Session,
    actor: Actor,
    notification_id: uuid.UUID,
    graduate_id: uuid.UUID | None = None,
    now: datetime,
) -> Notification:
    """Idempotent: the first read time stays."""
    if graduate_id is not None:
        _own(session, actor, graduate_id, "notification.read", now)
    found = session.scalar(
        inbox(user_id=actor.user_id, now=now).where(Notification.id == notification_id)
    )
    if found is None:
        raise NotFound("No notification with that id.")
    if found.read_at is None:
        found.read_at = now
    return found


def _own(
    session: Session, actor: Actor, graduate_id: uuid.UUID, action: str, now: datetime
) -> None:
    if actor.graduate_id == graduate_id:
        return
    # Not the graduate: 404 without a tie, 403 (audited) with one.
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action=action,
        now=now,
    )
