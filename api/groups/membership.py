"""Who is in a group: joining, leaving, the waitlist and the seats it fills.

Seats are numbered so two people taking the last one at once cannot both win; every
seat change (join, leave, capacity) goes through the helpers here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.graduates.models import Graduate
from api.groups.models import MEMBER, WAITLISTED, Group, GroupCalendarFeed, GroupMember, GroupRsvp
from api.reminders import completion


def join(
    *, session: Session, actor: Actor, group_id: uuid.UUID, share_name: bool, now: datetime
) -> GroupMember:
    """A seat if one is free, else the waitlist. Two people taking the last seat at once
    both try the same seat number; the unique (group_id, seat) constraint lets one win and
    the other is waitlisted."""
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    me = _as_graduate(allowed)
    if allowed.group.archived_at is not None:
        raise Invalid("This group has ended.")
    for _ in range(5):
        _refuse_twice(session, group_id, me.id)
        seat = _free_seats(session, allowed.group)[:1]
        member = GroupMember(
            group_id=group_id,
            graduate_id=me.id,
            status=MEMBER if seat else WAITLISTED,
            seat=seat[0] if seat else None,
            share_name=share_name,
            joined_at=now,
        )
        try:
            with session.begin_nested():
                session.add(member)
                session.flush()
        except IntegrityError:
            continue  # that seat went a moment ago: look again
        return member
    raise Conflict("The group changed while you were joining; please try again.")


def update_membership(
    *, session: Session, actor: Actor, group_id: uuid.UUID, share_name: bool
) -> GroupMember:
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    member = find_membership(session, group_id, _as_graduate(allowed).id)
    if member is None:
        raise NotFound("You are not in this group.")
    member.share_name = share_name
    return member


def leave(*, session: Session, actor: Actor, group_id: uuid.UUID, now: datetime) -> None:
    """No reason asked, nobody told. Their RSVPs to meetings to come go; the first on the
    waitlist takes the seat."""
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    me = _as_graduate(allowed)
    member = find_membership(session, group_id, me.id)
    if member is None:
        raise NotFound("You are not in this group.")
    session.delete(member)
    completion.group_meeting_changed(session=session, group_id=group_id, graduate_id=me.id)
    session.execute(
        delete(GroupRsvp).where(
            GroupRsvp.group_id == group_id,
            GroupRsvp.graduate_id == me.id,
            GroupRsvp.occurrence_start > now,
        )
    )
    session.execute(  # a feed of this group stops with the membership
        update(GroupCalendarFeed)
        .where(
            GroupCalendarFeed.user_id == actor.user_id,
            GroupCalendarFeed.group_id == group_id,
            GroupCalendarFeed.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    session.flush()
    fill_seats(session, allowed.group)


def members(*, session: Session, actor: Actor, group_id: uuid.UUID) -> Select[GroupMember]:
    """The group's coordinators see every member and the waitlist, by display name."""
    access.group(session=session, actor=actor, group_id=group_id, manage=True)
    return (
        select(GroupMember)
        .where(GroupMember.group_id == group_id)
        .order_by(GroupMember.seat.is_(None), GroupMember.id)
    )


def peers(*, session: Session, actor: Actor, group_id: uuid.UUID) -> dict[str, Any]:
    """For a seated member who shares their own name: the names of the others who share
    theirs, and how many more there are (counted, never named)."""
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    me = seated_member(session, allowed)
    if not me.share_name:
        raise Forbidden("Share your own name with the group to see who else shares theirs.")
    seated = session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group_id, GroupMember.status == MEMBER)
        .order_by(GroupMember.id)
    ).all()
    return {
        "names": [member.graduate.display_name for member in seated if member.share_name],
        "others": sum(1 for member in seated if not member.share_name),
    }


def _as_graduate(allowed: access.GroupAccess) -> Graduate:
    if allowed.graduate is None:
        raise Forbidden("Only the program's graduates join groups.")
    return allowed.graduate


def seated_member(session: Session, allowed: access.GroupAccess) -> GroupMember:
    member = find_membership(session, allowed.group.id, _as_graduate(allowed).id)
    if member is None:
        raise Forbidden("This is for the group's members; join it first.")
    if member.status != MEMBER:
        raise Invalid("You are on this group's waitlist; this opens once you have a seat.")
    return member


def find_membership(
    session: Session, group_id: uuid.UUID, graduate_id: uuid.UUID
) -> GroupMember | None:
    return session.scalar(
        select(GroupMember).where(
            GroupMember.group_id == group_id, GroupMember.graduate_id == graduate_id
        )
    )


def _refuse_twice(session: Session, group_id: uuid.UUID, graduate_id: uuid.UUID) -> None:
    existing = find_membership(session, group_id, graduate_id)
    if existing is not None:
        where = "on this group's waitlist" if existing.status == WAITLISTED else "in this group"
        raise Conflict(f"You are already {where}.")


def count(session: Session, group_id: uuid.UUID, status: str) -> int:
    return int(
        session.scalar(
            select(func.count(GroupMember.id)).where(
                GroupMember.group_id == group_id, GroupMember.status == status
            )
        )
        or 0
    )


def _free_seats(session: Session, group: Group) -> list[int]:
    taken = set(
        session.scalars(
            select(GroupMember.seat).where(
                GroupMember.group_id == group.id, GroupMember.seat.is_not(None)
            )
        )
    )
    return [seat for seat in range(1, group.capacity + 1) if seat not in taken]


def compact_seats(session: Session, group: Group) -> None:
    """After the capacity falls, members seated above it move to free seats below it."""
    above = session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group.id, GroupMember.seat > group.capacity)
        .order_by(GroupMember.seat)
    ).all()
    for member, seat in zip(above, _free_seats(session, group), strict=False):
        member.seat = seat
        session.flush()


def fill_seats(session: Session, group: Group) -> None:
    """Free seats go to the waitlist, first come first seated."""
    waiting = session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group.id, GroupMember.status == WAITLISTED)
        .order_by(GroupMember.id)
    ).all()
    for member, seat in zip(waiting, _free_seats(session, group), strict=False):
        member.status, member.seat = MEMBER, seat
    session.flush()
