"""Who holds a seat in which group, and when those groups meet, for many graduates at once.

The reminder planner asks this for a batch of graduates instead of reading the groups'
tables itself: three queries a batch, whatever its size.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.db import one_of
from api.groups.models import Group, GroupMember, GroupOccurrenceChange, GroupRsvp
from api.plans import recurrence


class SeatedMeetings(NamedTuple):
    seats: dict[uuid.UUID, list[uuid.UUID]]  # graduate -> groups they hold a seat in
    meetings: dict[uuid.UUID, list[tuple[datetime, datetime]]]  # group -> (original, start)
    declined: set[tuple[uuid.UUID, uuid.UUID, datetime]]  # (graduate, group, original)


def seated_meetings(
    *,
    session: Session,
    graduate_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    declined_since: datetime,
) -> SeatedMeetings:
    """The graduates' seats in live groups; those groups' meetings starting in [start, end)
    (changes applied, cancelled ones left out, one moved into the window included); and
    the RSVP "no"s for meetings whose original start is at or after `declined_since`."""
    seats: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    groups: dict[uuid.UUID, Any] = {}
    for row in session.execute(
        select(GroupMember.graduate_id, Group.id, Group.starts_at, Group.timezone, Group.rrule)
        .join(Group, Group.id == GroupMember.group_id)
        .where(
            one_of(session, GroupMember.graduate_id, graduate_ids),
            GroupMember.status == "member",
            Group.archived_at.is_(None),
        )
    ):
        seats[row.graduate_id].append(row.id)
        groups[row.id] = row
    if not groups:
        return SeatedMeetings(seats, {}, set())
    changes: dict[uuid.UUID, dict[datetime, Any]] = defaultdict(dict)
    for moved in session.execute(
        select(
            GroupOccurrenceChange.group_id,
            GroupOccurrenceChange.original_start,
            GroupOccurrenceChange.starts_at,
            GroupOccurrenceChange.cancelled,
        ).where(
            one_of(session, GroupOccurrenceChange.group_id, list(groups)),
            or_(
                GroupOccurrenceChange.original_start.between(start, end),
                GroupOccurrenceChange.starts_at.between(start, end),
            ),
        )
    ):
        changes[moved.group_id][moved.original_start] = moved
    meetings: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {}
    for group_id, group in groups.items():
        originals = set(
            recurrence.occurrences(
                starts_at=group.starts_at,
                timezone=group.timezone,
                rrule=group.rrule,
                start=start,
                end=end,
            )
        )
        found = []
        for original in originals | set(changes[group_id]):
            change = changes[group_id].get(original)
            if change is not None and change.cancelled:
                continue
            starts = change.starts_at if change is not None and change.starts_at else original
            if start <= starts < end:
                found.append((original, starts))
        meetings[group_id] = sorted(found)
    declined = {
        (row.graduate_id, row.group_id, row.occurrence_start)
        for row in session.execute(
            select(GroupRsvp.graduate_id, GroupRsvp.group_id, GroupRsvp.occurrence_start).where(
                one_of(session, GroupRsvp.graduate_id, graduate_ids),
                one_of(session, GroupRsvp.group_id, list(groups)),
                GroupRsvp.going.is_(False),
                GroupRsvp.occurrence_start >= declined_since,
            )
        )
    }
    return SeatedMeetings(seats, meetings, declined)
