"""Plan reminders: what each graduate should be told in the next hours, as outbox rows.

    run(*, session, now) -> int         the `reminders.plan` job: graduates due a visit
    reconcile(*, session, now) -> int   the daily `reminders.reconcile` job: everyone
    plan(session, *, now, horizon=HORIZON, graduate_ids=None) -> int   (rows inserted)

The job visits only the graduates whose reminders may have changed since it last looked:
something it reads was written (api/reminders/changes.py marks them) or their window is
about to gain a slot; why that misses nothing is argued in api/reminders/visits.py. The
daily reconcile plans everyone, as a safety net.

Planning a graduate works out the reminders wanted from now to
`now + horizon` (skill practice at their times and the phase's cadence, check-ins due and
a nudge before they close, appointments before and "did you go?" after), in their own
zone, then reconciles the outbox with it:

- a reminder already delivered, in flight, overdue or cancelled (its task was done) is
  never planned again: identity is (kind, subject), the subject naming the slot, not the
  time it was moved to;
- a pending row still in the future that is no longer wanted (preferences, time zone,
  pause, snooze or cap changed) is deleted; the planner owns rows until they fall due;
- what is new goes through `notifications.service.enqueue` (INSERT … ON CONFLICT DO
  NOTHING on (user, kind, subject, due time)): a second run inserts nothing.

Graduates are read a batch at a time, each batch with one query per table, so planning
100,000 graduates costs a few hundred queries, not one per graduate.

The steps live apart: `batch` reads (group seats and meetings through
`api.groups.seating`), `rules` turns preferences into quiet hours, pause and snoozes,
`wanted` decides each graduate's reminders, `visits` says who is due and when next; this
module reconciles and writes.
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from api.db import one_of
from api.notifications.models import Notification
from api.notifications.service import Planned, enqueue
from api.reminders import visits
from api.reminders.batch import BATCH, Needs, batches, outbox, read
from api.reminders.rules import PRIORITY, Rules, rules_for
from api.reminders.visits import Visit
from api.reminders.wanted import Outlook, Wanted, wanted_for
from api.vocabulary import NotificationStatus

__all__ = ["BATCH", "HORIZON", "Visited", "plan", "reconcile", "run", "visit_due"]

log = logging.getLogger("api.reminders")

HORIZON = timedelta(hours=12)
WRITERS = 2  # batches written at once on PostgreSQL while the next is planned
LIVE = (
    NotificationStatus.PENDING,
    NotificationStatus.CLAIMED,
    NotificationStatus.SENT,
    NotificationStatus.FAILED,
)  # rows that count toward the daily cap


def plan(
    session: Session,
    *,
    now: datetime,
    horizon: timedelta = HORIZON,
    graduate_ids: list[uuid.UUID] | None = None,
    commit_batches: bool = False,
) -> int:
    """Materialize the reminders due up to `now + horizon` for these graduates (None:
    everyone); how many rows were inserted. Keeps no record of the visit.

    `commit_batches`: each batch is committed, so a run killed midway keeps what it
    planned, and the next run adds only the rest."""
    inserted = 0
    for change in _changes(session, batches(session, graduate_ids), now=now, horizon=horizon):
        inserted += _write(session, change, now=now)
        if commit_batches:
            session.commit()
    return inserted


class Visited(NamedTuple):
    graduates: int
    inserted: int


def visit_due(*, session: Session, now: datetime) -> Visited:
    """Plan the graduates due a visit and store when each is next due."""
    return _visit(session, visits.due(session=session, now=now), now=now)


def run(*, session: Session, now: datetime) -> int:
    """The `reminders.plan` job (every 5 minutes): the graduates due a visit."""
    return visit_due(session=session, now=now).inserted


def reconcile(*, session: Session, now: datetime) -> int:
    """The `reminders.reconcile` job (daily): every graduate, whether due or not, and every
    next visit stored afresh."""
    return _visit(session, None, now=now).inserted


def _visit(session: Session, graduate_ids: list[uuid.UUID] | None, *, now: datetime) -> Visited:
    """Each batch committed. On PostgreSQL, WRITERS more connections write and commit batches
    while this one reads and decides the next, so the database's half of the work overlaps
    ours. On SQLite, or with a session bound to one connection (a test's transaction), one
    connection does it all."""
    changes = _changes(
        session, batches(session, graduate_ids), now=now, horizon=HORIZON, visiting=True
    )
    bind = session.get_bind()
    if not (isinstance(bind, Engine) and bind.dialect.name == "postgresql"):
        graduates = inserted = 0
        for change in changes:
            graduates += len(change.visits)
            inserted += _write(session, change, now=now)
            visits.record(session, change.visits)
            session.commit()
        return Visited(graduates, inserted)
    with _Writer(bind, now=now) as writer:
        for change in changes:
            writer.submit(change)
    return Visited(writer.graduates, writer.inserted)


class Change(NamedTuple):
    """One batch's decisions: rows to insert, future pending rows no longer wanted, and
    (when visiting) each graduate's next visit."""

    new: list[Planned]
    stale: list[uuid.UUID]
    visits: list[Visit]


def _changes(
    session: Session,
    graduates_in_batches: Iterator[Any],
    *,
    now: datetime,
    horizon: timedelta,
    visiting: bool = False,
) -> Iterator[Change]:
    """Each batch: read, decide what is wanted, then read the outbox rows those decisions
    rest on (batch.outbox) and reconcile. When visiting, each graduate is planned a day
    beyond the window, to learn when the window gains a slot (visits.next_visit)."""
    ahead = horizon + visits.LOOK_AHEAD if visiting else horizon
    for graduates in graduates_in_batches:
        data = read(session, graduates, now, ahead)
        change = Change(new=[], stale=[], visits=[])
        decided: list[tuple[Any, Rules, Outlook, list[Wanted]]] = []
        for graduate in graduates:
            try:
                rules = rules_for(graduate)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                # A zone this machine's tz database no longer has: better silent than at night.
                log.warning("unknown time zone; no reminders", extra={"graduate": str(graduate.id)})
                change.visits.append(Visit(graduate.id, now + horizon, graduate.changes))
                continue
            outlook = wanted_for(graduate, rules, data, now=now, horizon=ahead)
            wanted = [item for item in outlook.wanted if item.slot < now + horizon]
            decided.append((graduate, rules, outlook, wanted))
        existing = data.existing | outbox(
            session,
            [
                _needs(graduate, rules, wanted, now)
                for graduate, rules, _, wanted in decided
                if graduate.id not in data.existing
            ],
            now,
        )
        for graduate, rules, outlook, wanted in decided:
            result = _reconcile(wanted, existing.get(graduate.id, []), rules, now)
            change.new.extend(
                Planned(
                    user_id=graduate.user_id,
                    graduate_id=graduate.id,
                    kind=item.kind,
                    subject=item.subject,
                    due_at=item.due_at,
                    expires_at=item.expires_at,
                )
                for item in result.add
            )
            change.stale.extend(result.drop)
            if visiting:
                next_at = visits.next_visit(outlook, capped=result.capped, now=now, horizon=horizon)
                change.visits.append(Visit(graduate.id, next_at, graduate.changes))
        yield change


def _needs(graduate: Any, rules: Rules, wanted: list[Wanted], now: datetime) -> Needs:
    """The outbox rows `_reconcile` reads for this graduate (see batch.Needs): an hour before
    the earliest wanted local day, in case its midnight fell in a daylight-saving gap."""
    since = min((rules.at(rules.local(item.due_at).date(), time()) for item in wanted), default=now)
    return Needs(
        graduate.user_id,
        min(since - timedelta(hours=1), now),
        [(item.kind, item.subject) for item in wanted],
    )


def _write(session: Session, change: Change, *, now: datetime) -> int:
    if change.stale:
        session.execute(
            delete(Notification).where(
                one_of(session, Notification.id, change.stale),
                Notification.status == NotificationStatus.PENDING,
                # Stale rows are future ones: PostgreSQL reads only the months ahead.
                Notification.due_at > now,
            ),
            execution_options={"synchronize_session": False},
        )
    return enqueue(session, items=change.new, now=now)


class _Writer:
    """Writes and commits batches on connections of their own, in WRITERS threads.

    At most WRITERS batches are in flight: `submit` first waits for the oldest, so a
    failed write stops the run a batch or two later (the batches before it stay committed)."""

    def __init__(self, engine: Engine, *, now: datetime) -> None:
        self._engine = engine
        self._now = now
        self._threads = ThreadPoolExecutor(
            max_workers=WRITERS, thread_name_prefix="reminders-writer"
        )
        self._in_flight: deque[Future[int]] = deque()
        self.graduates = 0
        self.inserted = 0

    def submit(self, change: Change) -> None:
        if len(self._in_flight) >= WRITERS:
            self.inserted += self._in_flight.popleft().result()
        self.graduates += len(change.visits)
        self._in_flight.append(self._threads.submit(self._commit, change))

    def _commit(self, change: Change) -> int:
        """The batch's rows, then its visits in a transaction of their own: a request that
        marks a graduate and then replans them (holding the planning row, waiting for the
        outbox rows) never waits on a writer that waits on it. Killed in between, the
        graduates stay due and the next run finds nothing to add."""
        with Session(self._engine) as session:
            inserted = _write(session, change, now=self._now)
            session.commit()
            visits.record(session, change.visits)
            session.commit()
        return inserted

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        """Waits for what is in flight; a failed write raises unless the run already failed."""
        try:
            if exc_type is None:
                while self._in_flight:
                    self.inserted += self._in_flight.popleft().result()
        finally:
            self._threads.shutdown(wait=True)


class Decided(NamedTuple):
    add: list[Wanted]
    drop: list[uuid.UUID]  # future pending rows no longer wanted
    capped: bool  # the daily cap left a wanted reminder out


def _reconcile(wanted: list[Wanted], existing: list[Any], rules: Rules, now: datetime) -> Decided:
    """What to insert and which future pending rows to delete, within the daily cap."""
    settled = [
        row for row in existing if row.status != NotificationStatus.PENDING or row.due_at <= now
    ]
    taken = {(row.kind, row.subject) for row in settled}
    # The cap counts pushes: rows of one kind due at the same moment collapse into one.
    pushes: dict[date, set[tuple[str, datetime]]] = defaultdict(set)
    for row in settled:
        if row.status in LIVE:
            pushes[rules.local(row.due_at).date()].add((row.kind, row.due_at))
    keep: list[Wanted] = []
    capped = False
    for item in sorted(wanted, key=lambda item: (PRIORITY[item.kind], item.due_at)):
        if (item.kind, item.subject) in taken:
            continue
        day = pushes[rules.local(item.due_at).date()]
        if (item.kind, item.due_at) not in day:
            if len(day) >= rules.daily_cap:
                capped = True
                continue
            day.add((item.kind, item.due_at))
        taken.add((item.kind, item.subject))
        keep.append(item)
    future = {
        (row.kind, row.subject, row.due_at, row.expires_at): row.id
        for row in existing
        if row.status == NotificationStatus.PENDING and row.due_at > now
    }
    wanted_keys = {(item.kind, item.subject, item.due_at, item.expires_at) for item in keep}
    add = [
        item
        for item in keep
        if (item.kind, item.subject, item.due_at, item.expires_at) not in future
    ]
    drop = [row_id for key, row_id in future.items() if key not in wanted_keys]
    return Decided(add, drop, capped)
