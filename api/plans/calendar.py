"""A secret, revocable iCalendar feed of the graduate's own appointments.

Events say "Appointment" and nothing clinical; the place appears only if the graduate
opted in. Only a hash of the feed's token is stored. `revoke_every_feed` ends this feed and
the group feeds together, when the person signs out everywhere or the record changes hands.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
import zoneinfo
from datetime import datetime, timedelta

from icalendar import Calendar, Event, vRecur
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import NotFound
from api.groups.models import GroupCalendarFeed
from api.plans.models import Appointment, CalendarFeed

FEED_NOT_FOUND = "No calendar feed at that address."


def hash_token(token: str) -> str:
    """Feeds keep only this; the token itself is shown once."""
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, show_place: bool, now: datetime
) -> tuple[str, CalendarFeed]:
    """A new feed token; any earlier feed stops working."""
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="calendar_feed.create",
        now=now,
    )
    return issue(session=session, graduate_id=graduate_id, show_place=show_place, now=now)


def issue(
    *, session: Session, graduate_id: uuid.UUID, show_place: bool, now: datetime
) -> tuple[str, CalendarFeed]:
    _revoke_all(session, graduate_id, now)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        graduate_id=graduate_id, token_hash=hash_token(token), show_place=show_place, created_at=now
    )
    session.add(feed)
    session.flush()
    return token, feed


def revoke(*, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime) -> None:
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="calendar_feed.revoke",
        now=now,
    )
    _revoke_all(session, graduate_id, now)


def revoke_every_feed(
    *, session: Session, user_id: uuid.UUID | None, graduate_id: uuid.UUID | None, now: datetime
) -> None:
    """Every feed the person holds (their groups, single groups, whatever their role) and every
    feed of the graduate record stops at once: a feed is a secret address that no sign-in
    protects, so it must not outlive sign-out everywhere or the record moving to a new login."""
    held = [
        condition
        for condition, value in (
            (GroupCalendarFeed.user_id == user_id, user_id),
            (GroupCalendarFeed.graduate_id == graduate_id, graduate_id),
        )
        if value is not None
    ]
    if held:
        session.execute(
            update(GroupCalendarFeed)
            .where(or_(*held), GroupCalendarFeed.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    if graduate_id is not None:
        _revoke_all(session, graduate_id, now)


def render(*, session: Session, token: str) -> bytes:
    feed = session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == hash_token(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    if feed is None:
        raise NotFound(FEED_NOT_FOUND)
    calendar = Calendar()
    calendar.add("prodid", "-//Companion//Appointments//EN")
    calendar.add("version", "2.0")
    for item in session.scalars(
        select(Appointment).where(Appointment.graduate_id == feed.graduate_id)
    ):
        event = Event()
        event.add("uid", f"{item.id}@companion")
        event.add("summary", "Appointment")
        # Local time with its zone, so a weekly rule keeps its wall-clock time across DST.
        starts = item.starts_at.astimezone(zoneinfo.ZoneInfo(item.timezone))
        event.add("dtstart", starts)
        event.add("dtend", starts + timedelta(minutes=item.duration_minutes))
        event.add("dtstamp", item.created_at)
        if item.rrule:
            event.add("rrule", vRecur.from_ical(item.rrule.removeprefix("RRULE:")))
        if feed.show_place and (item.location or item.video_url):
            event.add("location", item.location or item.video_url)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _revoke_all(session: Session, graduate_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.graduate_id == graduate_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
