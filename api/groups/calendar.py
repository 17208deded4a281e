"""Secret, revocable iCalendar feeds of group meetings: a graduate's groups, or one group.

The token works as the plan's appointment feed does (only its hash is kept, a new one
revokes the old). A graduate's feed says "Group meeting", never the group's name or topic
(it can reveal a condition); the place or link appears only if the owner opted in. A feed
stops showing a group as soon as its owner may no longer see it.
"""

from __future__ import annotations

import secrets
import uuid
import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Forbidden, NotFound
from api.graduates.models import Graduate
from api.groups.meetings import Occurrence, occurrences
from api.groups.models import MEMBER, Group, GroupCalendarFeed, GroupMember
from api.plans.calendar import FEED_NOT_FOUND, hash_token
from api.programs.models import Membership, Role

PAST = timedelta(days=30)
AHEAD = timedelta(days=180)
GENERIC_SUMMARY = "Group meeting"


def create_for_graduate(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, show_place: bool, now: datetime
) -> tuple[str, GroupCalendarFeed]:
    """A feed of every group the graduate has a seat in; the earlier one stops working."""
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="group_calendar_feed.create",
        now=now,
    )
    return _issue(session, actor.user_id, now, show_place, graduate_id=graduate_id)


def revoke_for_graduate(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> None:
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="group_calendar_feed.revoke",
        now=now,
    )
    _revoke(session, actor.user_id, now, graduate_id=graduate_id)


def create_for_group(
    *, session: Session, actor: Actor, group_id: uuid.UUID, show_place: bool, now: datetime
) -> tuple[str, GroupCalendarFeed]:
    """One group's meetings, for its coordinators, staff and seated members."""
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    if not allowed.manages:
        _require_seat(session, group_id, allowed.graduate)
    return _issue(session, actor.user_id, now, show_place, group_id=group_id)


def revoke_for_group(*, session: Session, actor: Actor, group_id: uuid.UUID, now: datetime) -> None:
    access.group(session=session, actor=actor, group_id=group_id, manage=False)
    _revoke(session, actor.user_id, now, group_id=group_id)


def render(*, session: Session, token: str, now: datetime) -> bytes:
    feed = session.scalar(
        select(GroupCalendarFeed).where(
            GroupCalendarFeed.token_hash == hash_token(token),
            GroupCalendarFeed.revoked_at.is_(None),
        )
    )
    if feed is None:
        raise NotFound(FEED_NOT_FOUND)
    calendar = Calendar()
    calendar.add("prodid", "-//Companion//Groups//EN")
    calendar.add("version", "2.0")
    groups, summary = _visible_groups(session, feed)
    for group in groups:
        for item in occurrences(session=session, group=group, start=now - PAST, end=now + AHEAD):
            calendar.add_component(_event(group, item, feed, summary or group.name))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _visible_groups(session: Session, feed: GroupCalendarFeed) -> tuple[list[Group], str | None]:
    """The running groups the feed's owner may still see, and the summary to show."""
    running = select(Group).where(Group.archived_at.is_(None))
    if feed.graduate_id is not None:
        seated = select(GroupMember.group_id).where(
            GroupMember.graduate_id == feed.graduate_id, GroupMember.status == MEMBER
        )
        owner = session.scalar(select(Graduate.user_id).where(Graduate.id == feed.graduate_id))
        if owner != feed.user_id:
            return [], None
        return list(session.scalars(running.where(Group.id.in_(seated)))), GENERIC_SUMMARY
    group = session.scalar(running.where(Group.id == feed.group_id))
    if group is None:
        return [], None
    runs_it = session.scalar(
        select(Membership.id).where(
            Membership.user_id == feed.user_id,
            Membership.program_id == group.program_id,
            Membership.role.in_((Role.COORDINATOR, Role.STAFF)),
        )
    )
    if runs_it is not None:
        return [group], None
    seat = session.scalar(
        select(GroupMember.id)
        .join(Graduate, Graduate.id == GroupMember.graduate_id)
        .where(
            GroupMember.group_id == group.id,
            GroupMember.status == MEMBER,
            Graduate.user_id == feed.user_id,
        )
    )
    return ([group], GENERIC_SUMMARY) if seat is not None else ([], None)


def _event(group: Group, item: Occurrence, feed: GroupCalendarFeed, summary: str) -> Event:
    event = Event()
    stamp = f"{item.original_start:%Y%m%dT%H%M%SZ}"
    event.add("uid", f"group-{group.id}-{stamp}@companion")
    event.add("summary", summary)
    # Local time with its zone, so the meeting keeps its wall-clock time across DST.
    zone = zoneinfo.ZoneInfo(group.timezone)
    event.add("dtstart", item.starts_at.astimezone(zone))
    event.add("dtend", item.ends_at.astimezone(zone))
    event.add("dtstamp", group.updated_at)
    if item.cancelled:
        event.add("status", "CANCELLED")
    if feed.show_place and (item.location or item.video_url):
        event.add("location", item.location if group.mode == "in_person" else item.video_url)
    return event


def _require_seat(session: Session, group_id: uuid.UUID, graduate: Graduate | None) -> None:
    seated = graduate is not None and session.scalar(
        select(GroupMember.id).where(
            GroupMember.group_id == group_id,
            GroupMember.graduate_id == graduate.id,
            GroupMember.status == MEMBER,
        )
    )
    if not seated:
        raise Forbidden("This is for the group's members; join it first.")


def _issue(
    session: Session, user_id: uuid.UUID, now: datetime, show_place: bool, **subject: Any
) -> tuple[str, GroupCalendarFeed]:
    _revoke(session, user_id, now, **subject)
    token = secrets.token_urlsafe(32)
    feed = GroupCalendarFeed(
        user_id=user_id,
        token_hash=hash_token(token),
        show_place=show_place,
        created_at=now,
        **subject,
    )
    session.add(feed)
    session.flush()
    return token, feed


def _revoke(session: Session, user_id: uuid.UUID, now: datetime, **subject: uuid.UUID) -> None:
    ((column, value),) = subject.items()
    session.execute(
        update(GroupCalendarFeed)
        .where(
            GroupCalendarFeed.user_id == user_id,
            getattr(GroupCalendarFeed, column) == value,
            GroupCalendarFeed.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
