"""Groups the coordinators run: creating, browsing, changing and archiving them.

Staff run all of a program's groups, coordinators the ones staff assigned them (all of
them while a group has no assigned coordinator); its graduates browse, join,
leave and RSVP. Nothing in api/groups reads a graduate's clinical record: attendance flows
one way, into the flag rules, and nothing about a flag comes back. Seats live in
membership, single meetings in meetings, the register in attendance, news in
announcements and who runs a group in coordinators; this module keeps the group itself.
"""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Conflict, Invalid
from api.graduates.service import check_timezone
from api.groups.announcements import announce
from api.groups.meetings import check_rule
from api.groups.membership import compact_seats, count, fill_seats, find_membership
from api.groups.models import MEMBER, WAITLISTED, Group, GroupRsvp
from api.plans import recurrence
from api.reminders import completion

EDITABLE = (
    "name",
    "kind",
    "mode",
    "location",
    "video_url",
    "capacity",
    "description",
    "facilitator",
    "duration_minutes",
)


def create(
    *, session: Session, actor: Actor, program_id: uuid.UUID, now: datetime, **fields: Any
) -> Group:
    access.group_program(session=session, actor=actor, program_id=program_id, manage=True)
    group = Group(program_id=program_id, created_at=now, updated_at=now)
    _apply(group, fields)
    session.add(group)
    session.flush()
    return group


def listed(
    *, session: Session, actor: Actor, program_id: uuid.UUID, archived: bool
) -> Select[Group]:
    """Every group for its coordinators and staff; the running ones for its graduates."""
    me = access.group_program(session=session, actor=actor, program_id=program_id, manage=False)
    statement = select(Group).where(Group.program_id == program_id)
    if me is None:
        statement = statement.where(access.runs_group(actor))
    if me is not None or not archived:
        statement = statement.where(Group.archived_at.is_(None))
    return statement.order_by(Group.name, Group.id)


def read(*, session: Session, actor: Actor, group_id: uuid.UUID) -> dict[str, Any]:
    """The group, with the caller's own place in it (graduates) or the waitlist's length."""
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    own = (
        find_membership(session, group_id, allowed.graduate.id)
        if allowed.graduate is not None
        else None
    )
    return {
        "group": allowed.group,
        "membership": own,
        "waitlist_count": count(session, group_id, WAITLISTED) if allowed.manages else None,
    }


def update_group(
    *, session: Session, actor: Actor, group_id: uuid.UUID, now: datetime, **fields: Any
) -> Group:
    """Change any part; a lower capacity may not unseat anyone, a higher one seats the
    waitlist in order."""
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    if group.archived_at is not None:
        raise Conflict("This group is archived.")
    current = {
        **{key: getattr(group, key) for key in (*EDITABLE, "timezone", "rrule")},
        "starts_at_local": group.starts_at_local,
    }
    seated = count(session, group.id, MEMBER)
    if fields.get("capacity") is not None and fields["capacity"] < seated:
        raise Invalid(
            "Capacity below the members already seated.",
            errors={"capacity": [f"{seated} members hold seats; at least {seated}"]},
        )
    schedule = (group.starts_at, group.timezone, group.rrule)
    _apply(group, {**current, **fields})
    group.updated_at = now
    session.flush()
    if (group.starts_at, group.timezone, group.rrule) != schedule:
        _follow_rsvps(session, actor, group, now)
    completion.group_meeting_changed(session=session, group_id=group.id)
    compact_seats(session, group)
    fill_seats(session, group)
    return group


def _follow_rsvps(session: Session, actor: Actor, group: Group, now: datetime) -> None:
    """After a schedule change, each answer to a meeting still to come follows its meeting
    to the one new meeting in the same local week; an answer with none (or two) to follow
    is cleared, and the members are told in an announcement to answer again."""
    answers = list(
        session.scalars(
            select(GroupRsvp).where(
                GroupRsvp.group_id == group.id, GroupRsvp.occurrence_start >= now
            )
        )
    )
    if not answers:
        return
    zone = zoneinfo.ZoneInfo(group.timezone)
    latest = max(answer.occurrence_start for answer in answers)
    new_starts = list(
        recurrence.occurrences(
            starts_at=group.starts_at,
            timezone=group.timezone,
            rrule=group.rrule,
            start=now - timedelta(days=7),
            end=latest + timedelta(days=8),
        )
    )
    if {answer.occurrence_start for answer in answers} <= set(new_starts):
        return
    by_week: dict[tuple[int, int], list[datetime]] = {}
    for instant in new_starts:
        by_week.setdefault(instant.astimezone(zone).isocalendar()[:2], []).append(instant)
    taken = {(a.graduate_id, a.occurrence_start) for a in answers}
    cleared = 0
    for answer in sorted(answers, key=lambda a: a.occurrence_start):
        if answer.occurrence_start in new_starts:
            continue
        week = by_week.get(answer.occurrence_start.astimezone(zone).isocalendar()[:2], [])
        if len(week) == 1 and week[0] >= now and (answer.graduate_id, week[0]) not in taken:
            taken.add((answer.graduate_id, week[0]))
            answer.occurrence_start = week[0]
        else:
            session.delete(answer)
            cleared += 1
    session.flush()
    if cleared:
        announce(
            session=session,
            actor=actor,
            group_id=group.id,
            title="Meeting times changed",
            body=(
                "The group's schedule has changed. Some answers about coming meetings no "
                "longer matched a meeting and were cleared: please say again whether you "
                "are coming."
            ),
            now=now,
        )


def archive(*, session: Session, actor: Actor, group_id: uuid.UUID, now: datetime) -> Group:
    """The group stops: hidden from browsing and feeds, its history kept for engagement."""
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    if group.archived_at is None:
        group.archived_at = group.updated_at = now
        completion.group_meeting_changed(session=session, group_id=group.id)
    return group


def _apply(group: Group, fields: dict[str, Any]) -> None:
    timezone = check_timezone(fields["timezone"])
    if fields["mode"] == "in_person" and not fields.get("location"):
        raise Invalid(
            "An in-person group needs a place.", errors={"location": ["required when in person"]}
        )
    if fields["mode"] == "video" and not fields.get("video_url"):
        raise Invalid(
            "A video group needs a link.", errors={"video_url": ["required for video meetings"]}
        )
    check_rule(fields["rrule"], fields["starts_at_local"])
    group.starts_at = recurrence.to_instant(fields["starts_at_local"], timezone)
    group.timezone, group.rrule = timezone, fields["rrule"].removeprefix("RRULE:")
    for key in EDITABLE:
        setattr(group, key, fields.get(key))
