"""One home for "this write may change someone's reminders": it marks them due for the planner.

The `reminders.plan` job visits only graduates that are due (api/reminders/visits.py). Every
write to what the planner reads marks the graduates it concerns, whichever path made it (the
API, the console, a job, the CLI): two listeners on every Session watch the unit of work
(objects added, changed, deleted) and the INSERT, UPDATE and DELETE statements run through
a session. A mark is one idempotent upsert per flush or statement, and only when a watched
table is touched in a way that matters (WATCHED).

A statement whose rows cannot be told (an UPDATE or DELETE run for many parameter sets, an
INSERT whose rows leave the graduate to the database) marks every graduate: the next run is
then a full one, which is slow but never wrong.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, event, inspect, literal, or_, select, true
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import TableClause

from api.checkins.cadence import INTENSIFYING
from api.checkins.schedule import SCREENS, screened_positive
from api.db import UTCDateTime, one_of, upsert
from api.graduates.models import Graduate
from api.groups.models import MEMBER, GroupMember
from api.plans.models import Appointment
from api.reminders.models import ReminderPlanning
from api.reminders.visits import AT_ONCE

Row = Callable[[str], Any]  # a row's value by column name


def _seated(groups: Any) -> Select[Any]:
    """The graduates holding a seat in these groups (a meeting change concerns them all)."""
    return select(GroupMember.graduate_id).where(
        GroupMember.group_id.in_(groups), GroupMember.status == MEMBER
    )


def _owners(appointments: Any) -> Select[Any]:
    return select(Appointment.graduate_id).where(Appointment.id.in_(appointments))


def _positive_screen(row: Row) -> bool:
    return row("questionnaire") == "daily" and any(
        screened_positive(row("subscales"), screen) for screen in SCREENS
    )


def _intensifying(row: Row) -> bool:
    return row("kind") in INTENSIFYING


@dataclass(frozen=True)
class Watched:
    """What in one table can change a graduate's reminders."""

    key: str  # the column that says whose reminders a row concerns
    # Key values (a list or a query) -> the graduates concerned; None: the key is a graduate.
    whose: Callable[[Any], Select[Any]] | None = None
    columns: frozenset[str] | None = None  # an update matters if it changes one (None: any)
    matters: Callable[[Row], bool] | None = None  # a row matters only if (None: every row)


WATCHED: dict[str, Watched] = {
    "graduates": Watched(
        "id", columns=frozenset({"timezone", "graduation_date", "substance_use", "user_id"})
    ),
    "reminder_preferences": Watched("graduate_id"),
    "appointments": Watched("graduate_id"),
    "appointment_reports": Watched("appointment_id", whose=_owners),
    "skill_practice": Watched("graduate_id"),
    "check_ins": Watched("graduate_id", matters=_positive_screen),
    "flags": Watched(
        "graduate_id",
        columns=frozenset({"kind", "source", "raised_at", "resolved_at"}),
        matters=_intensifying,
    ),
    "group_members": Watched("graduate_id", columns=frozenset({"group_id", "status", "seat"})),
    "group_rsvps": Watched("graduate_id"),
    "groups": Watched(
        "id", whose=_seated, columns=frozenset({"starts_at", "timezone", "rrule", "archived_at"})
    ),
    "group_occurrence_changes": Watched("group_id", whose=_seated),
}


def mark(
    session: Session, *, graduate_ids: Iterable[uuid.UUID] = (), among: Iterable[Select[Any]] = ()
) -> None:
    """Make these graduates (ids, or the ids the `among` queries select) due at once."""
    ids = list(dict.fromkeys(graduate_ids))
    conditions: list[ColumnElement[bool]] = [Graduate.id.in_(query) for query in among]
    if ids:
        conditions.append(one_of(session, Graduate.id, ids))
    if not conditions:
        return
    table = ReminderPlanning.__table__
    statement = upsert(session, table).from_select(
        ["graduate_id", "due_at", "changes"],
        select(Graduate.id, literal(AT_ONCE, UTCDateTime()), literal(1)).where(or_(*conditions)),
    )
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.graduate_id],
        set_={"due_at": statement.excluded.due_at, "changes": table.c.changes + 1},
    )
    session.connection().execute(statement)


class _Marks:
    """Graduates to mark, gathered from one flush or statement."""

    def __init__(self) -> None:
        self.ids: list[uuid.UUID] = []
        self.among: list[Select[Any]] = []

    def add(self, watched: Watched, keys: Any) -> None:
        """`keys`: a list of key values, or a query selecting them."""
        if watched.whose is not None:
            self.among.append(watched.whose(keys))
        elif isinstance(keys, list):
            self.ids.extend(keys)
        else:
            self.among.append(keys)

    def everyone(self) -> None:
        self.among.append(select(Graduate.id).where(true()))

    def apply(self, session: Session) -> None:
        mark(session, graduate_ids=self.ids, among=self.among)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    marks = _Marks()
    for objects, updated in ((session.new, False), (session.dirty, True), (session.deleted, False)):
        for obj in objects:
            watched = WATCHED.get(getattr(obj, "__tablename__", ""))
            if watched is None or (updated and not _changes_what_matters(obj, watched)):
                continue
            if watched.matters is None or watched.matters(functools.partial(getattr, obj)):
                marks.add(watched, [getattr(obj, watched.key)])
    marks.apply(session)


def _changes_what_matters(obj: Any, watched: Watched) -> bool:
    changed = {attr.key for attr in inspect(obj).attrs if attr.history.has_changes()}
    return watched.columns is None or bool(changed & watched.columns)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> Any:
    statement = state.statement
    if not isinstance(statement, Insert | Update | Delete):
        return None
    table = statement.table
    watched = WATCHED.get(table.name) if isinstance(table, TableClause) else None
    if watched is None:
        return None
    marks = _Marks()
    if isinstance(statement, Insert):
        result = state.invoke_statement()  # the rows must exist before they are marked
        _inserted(marks, watched, state.parameters)
        marks.apply(state.session)
        return result
    if state.is_executemany:
        marks.everyone()
    else:  # before the statement: it may change what its WHERE matches
        keys = select(table.c[watched.key])
        if statement.whereclause is not None:
            keys = keys.where(statement.whereclause)
        marks.add(watched, keys)
    marks.apply(state.session)
    return None


def _inserted(marks: _Marks, watched: Watched, parameters: Any) -> None:
    rows: list[Mapping[str, Any]] = (
        parameters if isinstance(parameters, list) else [parameters or {}]
    )
    if any(watched.key not in row for row in rows):
        marks.everyone()
        return
    keys = [row[watched.key] for row in rows if watched.matters is None or watched.matters(row.get)]
    if keys:
        marks.add(watched, keys)
