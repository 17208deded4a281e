"""The outbox by month on PostgreSQL: partitions made ahead by a job, dropped whole by retention.

`notifications` is PARTITION BY RANGE (due_at), one partition a month named
`notifications_YYYY_MM` (UTC months). Why due_at and not created_at:
- the planner's key (user_id, kind, subject, due_at) already holds it, and a partitioned
  table's unique keys must: with created_at the key would need created_at too, and two
  planner runs would each insert the same reminder;
- retention ages rows by due_at, so a month of due_at past every program's inbox period is
  a partition dropped whole;
- the inbox reads (user_id, due_at <= now) and the dispatcher's claim is bounded on due_at
  (`dispatch.LATE`), so both prune to the partitions they need.

No DEFAULT partition: a row due in a month without a partition fails to insert, which the
job makes impossible by keeping `MONTHS_AHEAD` months made (the migration made them too),
while a DEFAULT partition would fill silently when the job stops and then block the very
partition the job has to make (PostgreSQL refuses a new partition whose rows sit in the
default, and checks it with a scan under lock).

SQLite keeps one plain table: everything here is a no-op there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.vocabulary import NotificationStatus

log = logging.getLogger("api.notifications")

TABLE = "notifications"
MONTHS_AHEAD = 3  # what the outbox can take if the job stops: today's month plus these
_NAME = re.compile(rf"^{TABLE}_(\d{{4}})_(\d{{2}})$")
# DDL on the outbox waits at most this for its locks, and then gives up until the next run,
# rather than queueing every dispatcher and request behind it; each change is committed at
# once, so no lock outlives it.
LOCK_TIMEOUT = "2s"
IN_FLIGHT = (NotificationStatus.PENDING, NotificationStatus.CLAIMED)


@dataclass(frozen=True, order=True)
class Month:
    """One partition's range: [start, end) in UTC."""

    start: datetime

    @property
    def end(self) -> datetime:
        return self.plus(1).start

    @property
    def name(self) -> str:
        return f"{TABLE}_{self.start:%Y_%m}"

    @property
    def bounds(self) -> str:
        return f"FROM ('{self.start.isoformat()}') TO ('{self.end.isoformat()}')"

    def plus(self, months: int) -> Month:
        index = self.start.year * 12 + self.start.month - 1 + months
        return Month(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        moment = moment.astimezone(UTC)
        return cls(datetime(moment.year, moment.month, 1, tzinfo=UTC))

    @classmethod
    def named(cls, name: str) -> Month | None:
        found = _NAME.match(name)
        if found is None:
            return None
        return cls(datetime(int(found[1]), int(found[2]), 1, tzinfo=UTC))


def is_partition(name: str) -> bool:
    """For Alembic's autogenerate: partitions are made by the job, not by the models."""
    return Month.named(name) is not None


def window(now: datetime, *, behind: int = 0, ahead: int = MONTHS_AHEAD) -> list[Month]:
    current = Month.of(now)
    return [current.plus(offset) for offset in range(-behind, ahead + 1)]


def existing(session: Session) -> list[Month]:
    """The monthly partitions attached now, oldest first (others are not ours to touch)."""
    names = session.scalars(
        text(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " WHERE pg_inherits.inhparent = CAST(:table AS regclass)"
        ),
        {"table": TABLE},
    )
    return sorted(month for month in map(Month.named, names) if month is not None)


def ensure(*, session: Session, now: datetime, behind: int = 0, ahead: int = MONTHS_AHEAD) -> int:
    """The `notifications.partitions` job: this month and the next `ahead` exist (and
    `behind` months before it, for a database seeded in the past); how many it made."""
    if not _partitioned(session):
        return 0
    have = set(existing(session))
    made = sum(
        _in_savepoint(session, month, "made", _attach)
        for month in window(now, behind=behind, ahead=ahead)
        if month not in have
    )
    have = set(existing(session))
    missing = [month.name for month in window(now) if month not in have]
    if missing:
        log.warning("outbox partitions missing", extra={"partitions": missing})
    return made


def drop_before(*, session: Session, before: datetime) -> list[str]:
    """Drop the partitions that end at or before `before`, unless a row in one is still
    pending or claimed (then it stays, and the row delete trims it); their names."""
    if not _partitioned(session):
        return []
    return [
        month.name
        for month in existing(session)
        if month.end <= before and _in_savepoint(session, month, "dropped", _drop)
    ]


def _partitioned(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _attach(session: Session, month: Month) -> bool:
    # Made apart and attached: ATTACH lets reads and writes of the outbox go on, where
    # CREATE TABLE … PARTITION OF would stop them while it waits for its lock. Both copy
    # the foreign keys, which holds off writes to users and graduates for a moment.
    session.execute(text(f"CREATE TABLE {month.name} (LIKE {TABLE} INCLUDING DEFAULTS)"))
    session.execute(
        text(f"ALTER TABLE {TABLE} ATTACH PARTITION {month.name} FOR VALUES {month.bounds}")
    )
    return True


def _drop(session: Session, month: Month) -> bool:
    # Dropped in place, not detached first: a detached partition's foreign keys become its
    # own, and dropping those locks users and graduates against every read. The outbox is
    # locked before the look, so nothing can make a row of it pending meanwhile.
    session.execute(text(f"LOCK TABLE ONLY {TABLE} IN ACCESS EXCLUSIVE MODE"))
    in_flight = session.scalar(
        text(f"SELECT EXISTS (SELECT FROM {month.name} WHERE status = ANY(:statuses))"),
        {"statuses": list(IN_FLIGHT)},
    )
    if in_flight:
        log.warning("outbox partition kept: rows in flight", extra={"partition": month.name})
        return False
    session.execute(text(f"DROP TABLE {month.name}"))
    return True


def _in_savepoint(
    session: Session, month: Month, done: str, work: Callable[[Session, Month], bool]
) -> bool:
    """`work` in a savepoint, committed at once if it says so. A lock not granted in time
    (or another scheduler doing the same at once) leaves everything as it was, for the
    next run."""
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    savepoint = session.begin_nested()
    try:
        kept = work(session, month)
    except DBAPIError as error:
        kept = False
        log.warning(
            "outbox partition not %s",
            done,
            extra={"partition": month.name, "error": type(error.orig).__name__},
        )
    if not kept:
        savepoint.rollback()
        session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
        return False
    savepoint.commit()
    session.commit()  # and the locks go, and lock_timeout with them
    return True
