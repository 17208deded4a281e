"""The register of a meeting that happened, the disengagement signal it can raise, and
the counts-only engagement report built from it.

The only part of groups that writes to flags: one way, and nothing comes back.
"""

from __future__ import annotations

import itertools
import uuid
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Invalid
from api.flags import rules as flag_rules
from api.flags.service import raise_signal
from api.flags.time_rules import during_watch
from api.graduates.models import Graduate
from api.groups.meetings import occurrence, occurrences
from api.groups.membership import count
from api.groups.models import MEMBER, WAITLISTED, Group, GroupAttendance, GroupMember

SIGNAL_LOOKBACK = timedelta(days=120)


def attendance(
    *, session: Session, actor: Actor, group_id: uuid.UUID, original_start: datetime
) -> list[GroupAttendance]:
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    occurrence(session=session, group=group, original_start=original_start)
    return _attendance_at(session, group_id, original_start)


def record_attendance(
    *,
    session: Session,
    actor: Actor,
    group_id: uuid.UUID,
    original_start: datetime,
    records: list[dict[str, Any]],
    now: datetime,
) -> list[GroupAttendance]:
    """Replace the whole register of one meeting that has happened (sending it twice changes
    nothing). A member newly marked absent may feed the disengagement rule, in the same
    transaction; the reply is the register and nothing else."""
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    item = occurrence(session=session, group=group, original_start=original_start)
    if item.cancelled:
        raise Invalid("This meeting was cancelled.", errors={"start": ["cancelled"]})
    if item.starts_at > now:
        raise Invalid(
            "This meeting has not happened yet.", errors={"start": ["record it once it starts"]}
        )
    wanted = {record["graduate_id"]: record["status"] for record in records}
    if len(wanted) != len(records):
        raise Invalid("A member appears twice.", errors={"records": ["one entry per member"]})
    seated = set(
        session.scalars(
            select(GroupMember.graduate_id).where(
                GroupMember.group_id == group_id, GroupMember.status == MEMBER
            )
        )
    )
    strangers = sorted(str(graduate_id) for graduate_id in wanted if graduate_id not in seated)
    if strangers:
        raise Invalid(
            "Attendance can only be recorded for the group's members.",
            errors={"records": [f"not a member of this group: {', '.join(strangers)}"]},
        )
    existing = {row.graduate_id: row for row in _attendance_at(session, group_id, original_start)}
    newly_absent = []
    for graduate_id, recorded in existing.items():
        if graduate_id not in wanted:
            session.delete(recorded)
    for graduate_id, status in wanted.items():
        row = existing.get(graduate_id)
        if row is None:
            row = GroupAttendance(
                group_id=group_id, occurrence_start=original_start, graduate_id=graduate_id
            )
            session.add(row)
        elif row.status == status:
            continue
        if status == "absent":
            newly_absent.append(graduate_id)
        row.status, row.recorded_by, row.recorded_at = status, actor.user_id, now
    session.flush()
    for graduate_id in newly_absent:
        _check_missed_twice(session, group, graduate_id, original_start, now)
    return _attendance_at(session, group_id, original_start)


def _attendance_at(
    session: Session, group_id: uuid.UUID, original_start: datetime
) -> list[GroupAttendance]:
    return list(
        session.scalars(
            select(GroupAttendance)
            .where(
                GroupAttendance.group_id == group_id,
                GroupAttendance.occurrence_start == original_start,
            )
            .order_by(GroupAttendance.recorded_at, GroupAttendance.graduate_id)
        )
    )


def _check_missed_twice(
    session: Session, group: Group, graduate_id: uuid.UUID, original_start: datetime, now: datetime
) -> None:
    """DOMAIN.md rule 4: two consecutive meetings that happened, both absent (excused breaks
    the run). The meeting just marked is paired with the one before and the one after it."""
    held = [
        item.original_start
        for item in occurrences(
            session=session, group=group, start=original_start - SIGNAL_LOOKBACK, end=now
        )
        if not item.cancelled and item.starts_at <= now
    ]
    if original_start not in held:
        return
    index = held.index(original_start)
    neighbours = held[max(index - 1, 0) : index + 2]
    marks = dict(
        session.execute(
            select(GroupAttendance.occurrence_start, GroupAttendance.status).where(
                GroupAttendance.group_id == group.id,
                GroupAttendance.graduate_id == graduate_id,
                GroupAttendance.occurrence_start.in_(neighbours),
            )
        ).all()
    )
    pairs = list(itertools.pairwise(neighbours))
    missed = next(
        (pair for pair in reversed(pairs) if all(marks.get(start) == "absent" for start in pair)),
        None,
    )
    if missed is None:
        return
    graduate = session.get(Graduate, graduate_id)
    if graduate is None:
        return
    zone = zoneinfo.ZoneInfo(group.timezone)
    days = [start.astimezone(zone).date() for start in missed]
    # The group's name and topic stay out: a topic can reveal a condition. Its id is enough.
    signal = flag_rules.Signal(
        "disengaged",
        "mood",
        "group_meetings_missed_twice",
        f"Missed two meetings in a row of a group they belong to ({_day(days[0])} and "
        f"{_day(days[1])}).",
        {"group_id": str(group.id), "missed": [day.isoformat() for day in days]},
        (),
    )
    raise_signal(
        session=session,
        graduate=graduate,
        signal=during_watch(session=session, graduate=graduate, signal=signal),
        now=now,
    )


def _day(value: date) -> str:
    return value.strftime("%b %-d")


def engagement(
    *, session: Session, actor: Actor, group_id: uuid.UUID, months: int, now: datetime
) -> dict[str, Any]:
    """Attendance rate and members active per month (in the group's zone): counts only,
    never anything from a graduate's clinical record."""
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    zone = zoneinfo.ZoneInfo(group.timezone)
    today = now.astimezone(zone).date()
    first = _add_months(today.replace(day=1), -(months - 1))
    since = datetime.combine(first, datetime.min.time(), zone)
    rows = session.execute(
        select(
            GroupAttendance.occurrence_start, GroupAttendance.graduate_id, GroupAttendance.status
        ).where(GroupAttendance.group_id == group_id, GroupAttendance.occurrence_start >= since)
    ).all()
    by_month: dict[date, list[Any]] = {}
    for row in rows:  # each meeting's month in the group's zone, worked out once
        by_month.setdefault(row.occurrence_start.astimezone(zone).date().replace(day=1), []).append(
            row
        )
    report = []
    for offset in range(months):
        month = _add_months(first, offset)
        here = by_month.get(month, [])
        present = [row for row in here if row.status == "present"]
        report.append(
            {
                "month": month.strftime("%Y-%m"),
                "meetings": len({row.occurrence_start for row in here}),
                "recorded": len(here),
                "present": len(present),
                "excused": sum(1 for row in here if row.status == "excused"),
                "absent": sum(1 for row in here if row.status == "absent"),
                "attendance_rate": round(len(present) / len(here), 3) if here else None,
                "members_active": len({row.graduate_id for row in present}),
            }
        )
    return {
        "group_id": group_id,
        "members": count(session, group_id, MEMBER),
        "waitlisted": count(session, group_id, WAITLISTED),
        "months": report,
    }


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
