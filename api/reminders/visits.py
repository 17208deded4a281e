"""Which graduates the `reminders.plan` job visits, and when each one is next due.

The planner's answer for one graduate (api/reminders/planner.py) depends on what it reads
and on `now`. `reminder_planning` holds, per enrolled graduate, the moment that answer may
next differ (`due_at`); a run plans only graduates whose moment has come, then stores each
one's next. Nothing is missed if every way the answer can change is one of these:

1. Something the planner reads changed. Every write to those tables marks the graduates it
   concerns due at once (api/reminders/changes.py): preferences, pause and snooze; time zone,
   graduation date, enrolment and erasure; appointments and their reports; skill practice;
   watch and step-up flags opening or closing; group seats, meetings and RSVPs; a daily
   check-in that screens positive (it makes a full form due now). Other check-in answers
   only take reminders away: the submit cancels the pending ones itself
   (completion.check_in_submitted), and what it has not planned yet is decided again at
   the graduate's next visit, with the answer in hand.
2. The window gains a slot. An item enters the plan once its slot (its nominal time) is
   before `now + HORIZON`. Each visit also plans a day further (to `now + HORIZON +
   LOOK_AHEAD`): just after the earliest slot beyond the window, minus HORIZON, the window
   next grows for this graduate. If there is none, nothing can enter before `now +
   LOOK_AHEAD` either, so that is the latest next visit (the next local midnight, below,
   always comes first).
3. Time alone changes what is wanted, other than by new slots (`Outlook.holds_until`,
   api/reminders/wanted.py): the next local midnight (the day's check-ins open, the phase
   and its skill days turn over); a required check-in whose announcement time has passed
   unsent, which moves to the next day when quiet hours start; and a snooze that would bring
   back a reminder the dispatcher has yet to send (visited every run until it comes or
   expires: the dispatcher marks nothing).
4. The daily cap left something out. Rows counted toward the cap can stop counting without
   the planner being told (a check-in answered cancels its reminder, a row expires unsent),
   and the next run would then fit the left-out reminder in: such a graduate is visited
   every run while a left-out reminder is still wanted.

Everything else the planner decides stays put as time passes: an item in the window stays
wanted until it is due (its expiry lies after its due time), and rows already due are never
planned again or deleted. What this argument misses (an RSVP "no" older than a month on a
meeting moved later than that, a bulk write that bypasses the session) the daily
`reminders.reconcile` job catches: it plans every graduate and stores every next visit.

A mark only ever moves `due_at` to AT_ONCE and bumps `changes`; a visit stores its next
`due_at` only if `changes` is what it read before planning, so a mark that lands while a
graduate is being planned leaves them due for the next run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.orm import Session

from api.db import upsert
from api.graduates.models import Graduate
from api.reminders.models import ReminderPlanning as R
from api.reminders.wanted import Outlook

# Earlier than any run: marked graduates are due at once.
AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
LOOK_AHEAD = timedelta(days=1)  # planned beyond the window, to know when it next grows
INSTANT = timedelta(microseconds=1)  # a slot is in the window once it is before its end


class Visit(NamedTuple):
    graduate_id: uuid.UUID
    next_at: datetime
    seen: int | None  # `changes` as read before planning; None: no row yet


def due(*, session: Session, now: datetime) -> list[uuid.UUID]:
    """Enrolled graduates due a visit, by id. A graduate no longer enrolled loses their row
    (a new enrolment marks them again)."""
    rows = session.execute(
        select(R.graduate_id, R.changes, Graduate.user_id.is_not(None).label("enrolled"))
        .join(Graduate, Graduate.id == R.graduate_id)
        .where(R.due_at <= now)
        .order_by(R.graduate_id)
    ).all()
    gone = [{"g": row.graduate_id, "seen": row.changes} for row in rows if not row.enrolled]
    if gone:
        session.execute(
            delete(R.__table__).where(
                R.graduate_id == bindparam("g"), R.changes == bindparam("seen")
            ),
            gone,
        )
    return [row.graduate_id for row in rows if row.enrolled]


def next_visit(outlook: Outlook, *, capped: bool, now: datetime, horizon: timedelta) -> datetime:
    """`outlook` was planned over `horizon + LOOK_AHEAD`; `capped`: the daily cap left a
    wanted reminder out."""
    if capped:
        return now
    entering = [
        item.slot - horizon + INSTANT for item in outlook.wanted if item.slot >= now + horizon
    ]
    return min(outlook.holds_until, *entering, now + LOOK_AHEAD)


def record(session: Session, visits: Sequence[Visit]) -> None:
    """Store each graduate's next visit, unless a mark came in since they were read."""
    known = [visit for visit in visits if visit.seen is not None]
    new = [visit for visit in visits if visit.seen is None]
    if known and session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "UPDATE reminder_planning AS r SET due_at = v.due_at "
                "FROM unnest(CAST(:ids AS uuid[]), CAST(:dues AS timestamptz[]),"
                " CAST(:seen AS integer[])) AS v(graduate_id, due_at, changes) "
                "WHERE r.graduate_id = v.graduate_id AND r.changes = v.changes"
            ),
            {
                "ids": [v.graduate_id for v in known],
                "dues": [v.next_at for v in known],
                "seen": [v.seen for v in known],
            },
        )
    elif known:
        session.execute(
            update(R.__table__)
            .where(R.graduate_id == bindparam("g"), R.changes == bindparam("seen"))
            .values(due_at=bindparam("next_at")),
            [{"g": v.graduate_id, "seen": v.seen, "next_at": v.next_at} for v in known],
        )
    if new:
        session.execute(
            upsert(session, R.__table__).on_conflict_do_nothing(),
            [{"graduate_id": v.graduate_id, "due_at": v.next_at, "changes": 0} for v in new],
        )
