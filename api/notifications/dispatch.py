"""Dispatchers: claim due notifications in batches, send them, record the outcome.

One or many processes (`python -m jobs.dispatcher`); SQLite runs one. Each pass:

1. claim (one short transaction): rows whose claim ran out (a dispatcher that crashed
   or hung) go back to `pending`; then up to `batch_size` due `pending` rows are taken
   with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer) and marked
   `claimed` by this pass with a lease, alerts first (the priority lane: lower
   `priority` before any reminder, whatever its due time). Of those, the ones past
   `expires_at` become `expired` (quiet hours began during an outage: not sent), and
   the ones a newer due row of the same collapse key replaces become `superseded`; an email whose
   recipient has no verified email channel any more is `cancelled`. Commit. Only rows due
   within `LATE` are claimed: every statement of a pass carries that bound on due_at, so on
   PostgreSQL it reads this month's partition of the outbox (and last month's in a month's
   first days), never the older ones; what is later than that the daily `expire_late` ends.
2. send, outside any transaction: one push per device of the recipient (alerts in a
   call of their own, before the rest of the batch), or the email.
3. record (one transaction), only where the row is still ours: `sent` (by push or
   email, or to the inbox when the person has no device left), a retry later
   (`next_attempt_at`, backoff with jitter for 429 and for 5xx/timeouts), or `failed`
   after `max_attempts`. Dead tokens are deleted.

At least once to FCM (a dispatcher that dies between send and record leaves rows that
another sends again after the lease), exactly once in our records: a row is recorded
only by the pass that holds its claim, so a late pass whose lease was taken over
records nothing. Time comes from the injected clock; nothing here sleeps except
`run_forever` between empty passes.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import ColumnElement, and_, bindparam, case, delete, or_, select, update
from sqlalchemy.orm import Session, aliased

from api.clock import Clock, FrozenClock
from api.config import Settings
from api.db import rowcount
from api.notifications import mail, senders, texts
from api.notifications.models import (
    ALERT_PRIORITY,
    EMAIL_KINDS,
    Device,
    EmailChannel,
    Notification,
)
from api.notifications.senders import QUOTA, TRANSIENT, UNREGISTERED, Outcome, Push, Sender
from api.vocabulary import NotificationStatus

log = logging.getLogger("api.notifications")

BATCH_SIZE = 500
LEASE = timedelta(minutes=5)  # far longer than a batch takes (send_each of 500: ~1-2 s)
MAX_ATTEMPTS = 8  # with the backoff below: 30-60 minutes of FCM trouble before `failed`
BACKOFF = timedelta(seconds=30)  # doubled per attempt, capped, with jitter
BACKOFF_CAP = timedelta(minutes=30)
# Nothing is sent later than this after it fell due (retries end within hours; only an
# outage of every dispatcher leaves rows this late): `expire_late` records them instead.
LATE = timedelta(days=7)
TABLE = Notification.__table__


@dataclass
class Report:
    """Counts of one or more passes (logged; never content)."""

    claimed: int = 0
    sent: int = 0
    to_inbox: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    superseded: int = 0
    cancelled: int = 0  # emails to someone who removed their email channel
    emailed: int = 0
    lost_claims: int = 0  # recorded by another pass after our lease ran out
    tokens_deleted: int = 0
    pushes: int = 0

    def add(self, other: Report) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    title: str
    body: str
    link: str | None
    collapse_key: str
    attempts: int
    priority: int


@dataclass
class Batch:
    claim: str
    at: datetime  # when it claimed: the bound of every statement of the pass is from this
    rows: list[Claimed] = field(default_factory=list)
    devices: dict[uuid.UUID, list[tuple[str, str]]] = field(default_factory=dict)
    emails: dict[uuid.UUID, str] = field(default_factory=dict)  # verified channels


class Dispatcher:
    def __init__(
        self,
        *,
        session_factory: Callable[[], Session],
        sender: Sender,
        clock: Clock,
        name: str | None = None,
        batch_size: int = BATCH_SIZE,
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        rng: random.Random | None = None,
        email_sender: mail.EmailSender | None = None,
        console_url: str = Settings.console_url,
    ) -> None:
        self.session_factory = session_factory
        self.sender = sender
        self.email_sender = email_sender or mail.ConsoleEmailSender()
        self.console_url = console_url
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.batch_size = min(batch_size, sender.max_batch)
        self.lease = lease
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()

    def run_once(self) -> Report:
        """One pass: claim a batch, send it, record it."""
        report = Report()
        batch = self.claim(report)
        if batch.rows:
            self.deliver(batch, report)
        return report

    def drain(self, max_passes: int | None = None) -> Report:
        """Passes until nothing is due (or `max_passes`)."""
        total = Report()
        passes = 0
        while max_passes is None or passes < max_passes:
            report = self.run_once()
            total.add(report)
            passes += 1
            if report.claimed == 0:
                break
        return total

    def run_forever(self, stop: threading.Event, idle_seconds: float = 2.0) -> None:
        """Until `stop` is set; a pass in progress finishes first."""
        log.info("dispatcher starting", extra={"dispatcher": self.name})
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                log.exception("dispatch pass failed", extra={"dispatcher": self.name})
                self.session_factory().rollback()
                stop.wait(idle_seconds)  # e.g. the database is briefly unavailable
                continue
            if report.claimed:
                log.info("dispatched", extra={"dispatcher": self.name, **vars(report)})
            else:
                stop.wait(idle_seconds)
        log.info("dispatcher stopped", extra={"dispatcher": self.name})

    # -- 1. claim -------------------------------------------------------------------------

    def claim(self, report: Report) -> Batch:
        session = self.session_factory()
        now = self.clock.now()
        batch = Batch(claim=f"{self.name}:{uuid.uuid4().hex[:12]}"[-100:], at=now)
        try:
            self._recover_expired_claims(session, now)
            due = (
                select(TABLE.c.id)
                .where(
                    TABLE.c.status == NotificationStatus.PENDING,
                    TABLE.c.next_attempt_at <= now,
                    _due_within(TABLE.c.due_at, batch.at),
                )
                .order_by(TABLE.c.priority, TABLE.c.next_attempt_at)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            claimed = session.execute(
                update(TABLE)
                .where(TABLE.c.id.in_(due.scalar_subquery()), _due_within(TABLE.c.due_at, batch.at))
                .values(
                    status=NotificationStatus.CLAIMED,
                    claimed_by=batch.claim,
                    claim_expires_at=now + self.lease,
                    attempts=TABLE.c.attempts + 1,
                )
                .returning(
                    TABLE.c.id,
                    TABLE.c.user_id,
                    TABLE.c.kind,
                    TABLE.c.title,
                    TABLE.c.body,
                    TABLE.c.link,
                    TABLE.c.collapse_key,
                    TABLE.c.attempts,
                    TABLE.c.expires_at,
                    TABLE.c.priority,
                )
            ).all()
            report.claimed = len(claimed)
            expired = [row.id for row in claimed if row.expires_at and row.expires_at <= now]
            # Claimed again and again and never recorded: something kills every dispatcher
            # that takes it. Stop after the attempts anything else gets.
            abandoned = {row.id for row in claimed if row.attempts > self.max_attempts}
            abandoned -= set(expired)
            superseded = self._superseded(session, batch, [row.id for row in claimed])
            superseded -= set(expired) | abandoned
            skip = set(expired) | superseded | abandoned
            batch.emails = self._email_addresses(
                session, {row.user_id for row in claimed if row.kind in EMAIL_KINDS}
            )
            unaddressed = {
                row.id
                for row in claimed
                if row.kind in EMAIL_KINDS and row.user_id not in batch.emails
            } - skip
            self._finish(session, batch, expired, status=NotificationStatus.EXPIRED, now=now)
            self._finish(session, batch, superseded, status=NotificationStatus.SUPERSEDED, now=now)
            self._finish(session, batch, abandoned, status=NotificationStatus.FAILED, now=now)
            self._finish(session, batch, unaddressed, status=NotificationStatus.CANCELLED, now=now)
            report.expired, report.superseded = len(expired), len(superseded)
            report.failed, report.cancelled = len(abandoned), len(unaddressed)
            skip |= unaddressed
            batch.rows = [
                Claimed(
                    row.id,
                    row.user_id,
                    row.kind,
                    row.title,
                    row.body,
                    row.link,
                    row.collapse_key,
                    row.attempts,
                    row.priority,
                )
                for row in claimed
                if row.id not in skip
            ]
            batch.devices = self._devices(
                session, {row.user_id for row in batch.rows if row.kind not in EMAIL_KINDS}
            )
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return batch

    def _recover_expired_claims(self, session: Session, now: datetime) -> None:
        """A crashed dispatcher's rows become pending again; its claim tag stays, so if it
        was only slow it can still record them until another pass claims them."""
        stale = (
            select(TABLE.c.id)
            .where(
                TABLE.c.status == NotificationStatus.CLAIMED,
                TABLE.c.claim_expires_at <= now,
                _due_within(TABLE.c.due_at, now),
            )
            .with_for_update(skip_locked=True)
        )
        session.execute(
            update(TABLE)
            .where(TABLE.c.id.in_(stale.scalar_subquery()), _due_within(TABLE.c.due_at, now))
            .values(status=NotificationStatus.PENDING, claim_expires_at=None)
        )

    def _superseded(self, session: Session, batch: Batch, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Claimed rows a newer due row of the same person and collapse key replaces."""
        if not ids:
            return set()
        mine = TABLE.alias("mine")
        newer = aliased(Notification)
        now = batch.at
        statement = (
            select(mine.c.id)
            .join(
                newer,
                and_(
                    newer.user_id == mine.c.user_id,
                    newer.collapse_key == mine.c.collapse_key,
                    newer.due_at > mine.c.due_at,
                    _due_within(newer.due_at, now),
                    newer.status.in_(
                        (
                            NotificationStatus.PENDING,
                            NotificationStatus.CLAIMED,
                            NotificationStatus.SENT,
                        )
                    ),
                ),
            )
            .where(mine.c.id.in_(ids), _due_within(mine.c.due_at, now))
            .distinct()
        )
        return set(session.scalars(statement))

    def _devices(
        self, session: Session, user_ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[str, str]]]:
        found: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
        if user_ids:
            rows = session.execute(
                select(Device.user_id, Device.token, Device.platform).where(
                    Device.user_id.in_(user_ids)
                )
            )
            for user_id, token, platform in rows:
                found[user_id].append((token, platform))
        return found

    def _email_addresses(self, session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not user_ids:
            return {}
        rows = session.execute(
            select(EmailChannel.user_id, EmailChannel.email).where(
                EmailChannel.user_id.in_(user_ids), EmailChannel.verified_at.is_not(None)
            )
        )
        return {user_id: email for user_id, email in rows}

    # -- 2. send and 3. record ----------------------------------------------------------------

    def deliver(self, batch: Batch, report: Report) -> None:
        alerts: list[Push] = []
        pushes: list[Push] = []
        emails: list[mail.Email] = []
        for row in batch.rows:
            if row.kind in EMAIL_KINDS:
                body = texts.email_body(row.kind, row.link, self.console_url)
                emails.append(
                    mail.Email(row.id, batch.emails[row.user_id], row.kind, row.title, body)
                )
                continue
            lane = alerts if row.priority == ALERT_PRIORITY else pushes
            for token, platform in batch.devices.get(row.user_id, ()):
                lane.append(
                    Push(
                        row.id,
                        token,
                        platform,
                        row.kind,
                        row.title,
                        row.body,
                        row.link,
                        row.collapse_key,
                    )
                )
        by_row: dict[uuid.UUID, list[Outcome]] = defaultdict(list)
        dead_tokens: set[str] = set()
        # Alerts leave before the reminders claimed with them, not among 500 of them.
        for lane in (alerts, pushes):
            outcomes = self.sender.send(lane) if lane else []
            for push, outcome in zip(lane, outcomes, strict=True):
                by_row[push.notification_id].append(outcome)
                if outcome.error == UNREGISTERED:
                    dead_tokens.add(push.token)
        report.pushes = len(alerts) + len(pushes)
        if emails:
            outcomes = self.email_sender.send(emails)
            for email, outcome in zip(emails, outcomes, strict=True):
                by_row[email.notification_id].append(outcome)
        self._record(batch, by_row, dead_tokens, report)

    def _record(
        self,
        batch: Batch,
        by_row: dict[uuid.UUID, list[Outcome]],
        dead_tokens: set[str],
        report: Report,
    ) -> None:
        session = self.session_factory()
        now = self.clock.now()
        pushed: list[uuid.UUID] = []
        emailed: list[uuid.UUID] = []
        to_inbox: list[uuid.UUID] = []
        retries: list[dict] = []
        failed: list[dict] = []
        for row in batch.rows:
            outcomes = by_row.get(row.id, [])
            errors = [o for o in outcomes if not o.ok]
            if row.kind in EMAIL_KINDS and not errors:
                emailed.append(row.id)
            elif any(o.ok for o in outcomes):
                pushed.append(row.id)  # devices that failed now are not retried
            elif row.kind not in EMAIL_KINDS and all(o.error == UNREGISTERED for o in errors):
                to_inbox.append(row.id)  # no device (left): the inbox still shows it
            else:
                retryable = [o for o in errors if o.error in (QUOTA, TRANSIENT)]
                code = (retryable or errors)[0].code or (retryable or errors)[0].error
                if retryable and row.attempts < self.max_attempts:
                    retries.append(
                        {
                            "b_id": row.id,
                            "b_next": now + self._backoff(row.attempts, retryable),
                            "b_error": str(code)[:200],
                        }
                    )
                else:
                    failed.append({"b_id": row.id, "b_error": str(code)[:200]})
        retried = failures = 0
        try:
            ours = and_(
                TABLE.c.claimed_by == batch.claim,
                TABLE.c.status.in_((NotificationStatus.CLAIMED, NotificationStatus.PENDING)),
                _due_within(TABLE.c.due_at, batch.at),
            )
            sent = self._finish(session, batch, pushed, NotificationStatus.SENT, now, via="push")
            inboxed = self._finish(
                session, batch, to_inbox, NotificationStatus.SENT, now, via="inbox"
            )
            sent += self._finish(session, batch, emailed, NotificationStatus.SENT, now, via="email")
            if retries:
                retried = rowcount(
                    session.execute(
                        update(TABLE)
                        .where(TABLE.c.id == bindparam("b_id"), ours)
                        .values(
                            status=NotificationStatus.PENDING,
                            next_attempt_at=bindparam("b_next"),
                            last_error=bindparam("b_error"),
                            claimed_by=None,
                            claim_expires_at=None,
                        ),
                        retries,
                    )
                )
            if failed:
                failures = rowcount(
                    session.execute(
                        update(TABLE)
                        .where(TABLE.c.id == bindparam("b_id"), ours)
                        .values(
                            status=NotificationStatus.FAILED,
                            last_error=bindparam("b_error"),
                            claim_expires_at=None,
                        ),
                        failed,
                    )
                )
            if dead_tokens:
                report.tokens_deleted = rowcount(
                    session.execute(delete(Device).where(Device.token.in_(dead_tokens)))
                )
            session.commit()
        except BaseException:
            session.rollback()
            raise
        report.sent, report.to_inbox, report.retried = sent, inboxed, retried
        report.emailed = len(emailed)
        report.failed += failures
        report.lost_claims = len(batch.rows) - (sent + inboxed + retried + failures)
        if report.lost_claims:
            log.warning(
                "claims lost before recording",
                extra={"dispatcher": self.name, "count": report.lost_claims},
            )

    def _finish(
        self,
        session: Session,
        batch: Batch,
        ids: list[uuid.UUID] | set[uuid.UUID],
        status: str,
        now: datetime,
        via: str | None = None,
    ) -> int:
        if not ids:
            return 0
        values: dict = {"status": status, "claim_expires_at": None}
        if status == NotificationStatus.FAILED:
            values["last_error"] = "abandoned: claimed but never recorded"
        if status == NotificationStatus.SENT:
            values.update(sent_at=now, delivered_via=via, last_error=None)
        result = session.execute(
            update(TABLE)
            .where(
                TABLE.c.id.in_(list(ids)),
                TABLE.c.claimed_by == batch.claim,
                TABLE.c.status.in_((NotificationStatus.CLAIMED, NotificationStatus.PENDING)),
                _due_within(TABLE.c.due_at, batch.at),
            )
            .values(**values)
        )
        return rowcount(result)

    def _backoff(self, attempts: int, errors: list[Outcome]) -> timedelta:
        """Exponential from BACKOFF, capped, with full jitter on its upper half; a 429's
        Retry-After is a floor."""
        ceiling = min(BACKOFF * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
        delay = ceiling / 2 + ceiling / 2 * self.rng.random()
        told = max((o.retry_after or 0 for o in errors if o.error == QUOTA), default=0)
        return max(delay, timedelta(seconds=told))


def _due_within(due_at: Any, claimed_at: datetime) -> ColumnElement[bool]:
    """What a pass at `claimed_at` may claim: the bound on the partition key that every
    statement of the pass carries."""
    return due_at.between(claimed_at - LATE, claimed_at)


def expire_late(*, session: Session, now: datetime) -> int:
    """The `notifications.expire-late` job: rows still undelivered `LATE` after they fell due
    (a crashed dispatcher's claim too, once its lease ran out) are ended, so none waits
    outside the claim's bound for ever and old partitions can be dropped. Reminders become
    `expired` (never sent late, as after quiet hours); alerts `failed`, so the clinician's
    inbox still shows them. How many it ended."""
    late = and_(
        TABLE.c.due_at < now - LATE,
        or_(
            TABLE.c.status == NotificationStatus.PENDING,
            and_(TABLE.c.status == NotificationStatus.CLAIMED, TABLE.c.claim_expires_at <= now),
        ),
    )
    ended = case(
        (TABLE.c.priority == ALERT_PRIORITY, NotificationStatus.FAILED),
        else_=NotificationStatus.EXPIRED,
    )
    result = session.execute(
        update(TABLE).where(late).values(status=ended, claim_expires_at=None, last_error="late")
    )
    return rowcount(result)


def for_app(
    app: Flask, sender: Sender | None = None, clock: Clock | None = None, **options: Any
) -> Dispatcher:
    """A dispatcher on the app's database and clock, with the sender its settings name."""
    runtime = app.extensions["companion"]
    options.setdefault("email_sender", mail.build_email_sender(runtime.settings))
    return Dispatcher(
        session_factory=runtime.db.session,
        sender=sender or senders.build_sender(runtime.settings),
        clock=clock or runtime.clock,
        console_url=runtime.settings.console_url,
        **options,
    )


def run_pass(*, app: Flask, now: datetime | None = None) -> int:
    """`flask jobs run-once`: drain what is due with the configured sender; rows recorded."""
    report = for_app(app, clock=FrozenClock(now) if now else None).drain()
    return (
        report.sent
        + report.to_inbox
        + report.failed
        + report.expired
        + report.superseded
        + report.cancelled
    )
