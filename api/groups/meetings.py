"""A group's meetings: its recurrence rule, each meeting with its one-off changes, RSVPs.

Kept apart from the group record because every other part (attendance, calendars,
reminders) needs to know when a meeting happens, and only that.
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.rrule import rrulestr
from icalendar import vRecur
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Invalid, NotFound
from api.groups.membership import seated_member
from api.groups.models import Group, GroupOccurrenceChange, GroupRsvp
from api.plans import recurrence
from api.reminders import completion

MAX_PER_WEEK = 3  # more meetings than this in any 7 days is not a group, it is a mistake
ALLOWED_FREQUENCIES = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
MAX_WINDOW = timedelta(days=400)
NO_OCCURRENCE = "No meeting of this group starts at that time."
RULE_HELP = "an RFC 5545 RRULE in the group's local time, e.g. FREQ=WEEKLY;BYDAY=TU"


def parse_start(start: str) -> datetime:
    """A meeting is addressed by its original start, e.g. 2026-12-01T23:00:00Z; anything
    that is not an instant with an offset addresses no meeting."""
    try:
        value = datetime.fromisoformat(start)
    except ValueError:
        raise NotFound(NO_OCCURRENCE) from None
    if value.tzinfo is None:
        raise NotFound(NO_OCCURRENCE)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Occurrence:
    """One meeting as it will happen: `original_start` is its key, `starts_at` its time now."""

    group_id: uuid.UUID
    original_start: datetime
    starts_at: datetime
    ends_at: datetime
    cancelled: bool
    moved: bool
    location: str | None
    video_url: str | None
    note: str | None
    timezone: str

    @property
    def starts_at_local(self) -> datetime:
        """The wall-clock time members meet at, in the group's zone (not the UTC key's day)."""
        return self.starts_at.astimezone(zoneinfo.ZoneInfo(self.timezone)).replace(tzinfo=None)

    @property
    def original_start_local(self) -> datetime:
        return self.original_start.astimezone(zoneinfo.ZoneInfo(self.timezone)).replace(tzinfo=None)


def check_rule(rule: str, start_local: datetime) -> None:
    """A rule a group can keep: daily at most, and no more than MAX_PER_WEEK in any 7 days.

    Unlike an appointment series, a group may run with no end date.
    """
    if not recurrence.RULE.match(rule) or "DTSTART" in rule.upper():
        raise Invalid("Recurrence rule not understood.", errors={"rrule": [RULE_HELP]})
    try:
        # icalendar reads the rule's parts; dateutil expands it (icalendar cannot).
        parts = vRecur.from_ical(rule.removeprefix("RRULE:"))
        parsed = rrulestr(rule.removeprefix("RRULE:"), dtstart=start_local, forceset=False)
    except (ValueError, TypeError):
        raise Invalid("Recurrence rule not understood.", errors={"rrule": [RULE_HELP]}) from None
    if (parts.get("FREQ") or [None])[0] not in ALLOWED_FREQUENCIES:
        raise Invalid(
            "Group meetings cannot repeat more often than daily.",
            errors={"rrule": ["FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"]},
        )
    starts = parsed.between(start_local, start_local + timedelta(days=366), inc=True)
    if not starts:
        raise Invalid(
            "This rule gives no meeting in the coming year.",
            errors={"rrule": ["the first meeting must fall within a year of starts_at_local"]},
        )
    busiest = max(
        sum(1 for other in starts[index:] if other < start + timedelta(days=7))
        for index, start in enumerate(starts)
    )
    if busiest > MAX_PER_WEEK:
        raise Invalid(
            "Too many meetings.",
            errors={"rrule": [f"at most {MAX_PER_WEEK} meetings in any 7 days (found {busiest})"]},
        )


def occurrences(
    *, session: Session, group: Group, start: datetime, end: datetime
) -> list[Occurrence]:
    """Meetings whose original start is in [start, end), with their changes applied."""
    changes = {
        change.original_start: change
        for change in session.scalars(
            select(GroupOccurrenceChange).where(
                GroupOccurrenceChange.group_id == group.id,
                GroupOccurrenceChange.original_start >= start,
                GroupOccurrenceChange.original_start < end,
            )
        )
    }
    return [
        _apply_change(group, instant, changes.get(instant))
        for instant in recurrence.occurrences(
            starts_at=group.starts_at,
            timezone=group.timezone,
            rrule=group.rrule,
            start=start,
            end=end,
        )
    ]


def occurrence(*, session: Session, group: Group, original_start: datetime) -> Occurrence:
    found = occurrences(
        session=session,
        group=group,
        start=original_start,
        end=original_start + timedelta(seconds=1),
    )
    if not found or found[0].original_start != original_start:
        raise NotFound(NO_OCCURRENCE)
    return found[0]


def _apply_change(
    group: Group, instant: datetime, change: GroupOccurrenceChange | None
) -> Occurrence:
    starts = change.starts_at if change and change.starts_at else instant
    minutes = change.duration_minutes if change and change.duration_minutes else None
    moved = bool(
        change
        and (
            starts != instant
            or minutes is not None
            or change.location is not None
            or change.video_url is not None
        )
    )
    return Occurrence(
        group_id=group.id,
        original_start=instant,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes or group.duration_minutes),
        cancelled=bool(change and change.cancelled),
        moved=moved,
        location=(change.location if change and change.location else group.location),
        video_url=(change.video_url if change and change.video_url else group.video_url),
        note=change.note if change else None,
        timezone=group.timezone,
    )


def meetings(
    *,
    session: Session,
    actor: Actor,
    group_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """Meetings in a window; a member sees their RSVP, coordinators the RSVP counts."""
    if not start < end <= start + MAX_WINDOW:
        raise Invalid("Bad window.", errors={"to": ["after from, and at most 400 days later"]})
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    found = occurrences(session=session, group=allowed.group, start=start, end=end)
    rsvps = session.execute(
        select(GroupRsvp.occurrence_start, GroupRsvp.graduate_id, GroupRsvp.going).where(
            GroupRsvp.group_id == group_id,
            GroupRsvp.occurrence_start >= start,
            GroupRsvp.occurrence_start < end,
        )
    ).all()
    me = allowed.graduate.id if allowed.graduate is not None else None
    items = []
    for item in found:
        here = [row for row in rsvps if row.occurrence_start == item.original_start]
        mine = next((row.going for row in here if row.graduate_id == me), None)
        items.append(
            {
                **asdict(item),
                "starts_at_local": item.starts_at_local,
                "original_start_local": item.original_start_local,
                "my_rsvp": None if mine is None else ("yes" if mine else "no"),
                "going": sum(row.going for row in here) if allowed.manages else None,
            }
        )
    return items


def change_meeting(
    *,
    session: Session,
    actor: Actor,
    group_id: uuid.UUID,
    original_start: datetime,
    now: datetime,
    cancelled: bool,
    starts_at_local: datetime | None = None,
    duration_minutes: int | None = None,
    location: str | None = None,
    video_url: str | None = None,
    note: str | None = None,
) -> Occurrence:
    """Cancel one meeting, or move it in time or place; sending no change restores it."""
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    occurrence(session=session, group=group, original_start=original_start)
    change = session.scalar(
        select(GroupOccurrenceChange).where(
            GroupOccurrenceChange.group_id == group_id,
            GroupOccurrenceChange.original_start == original_start,
        )
    )
    if change is None:
        change = GroupOccurrenceChange(group_id=group_id, original_start=original_start)
        session.add(change)
    change.cancelled = cancelled
    change.starts_at = (
        recurrence.to_instant(starts_at_local, group.timezone) if starts_at_local else None
    )
    change.duration_minutes, change.location, change.video_url = (
        duration_minutes,
        location,
        video_url,
    )
    change.note, change.updated_at = note, now
    session.flush()
    completion.group_meeting_changed(
        session=session, group_id=group_id, original_start=original_start
    )
    return occurrence(session=session, group=group, original_start=original_start)


def rsvp(
    *,
    session: Session,
    actor: Actor,
    group_id: uuid.UUID,
    original_start: datetime,
    response: str,
    now: datetime,
) -> dict[str, Any]:
    """Yes or no to a meeting still to come, by a seated member."""
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    me = seated_member(session, allowed)
    item = occurrence(session=session, group=allowed.group, original_start=original_start)
    if item.cancelled:
        raise Invalid("This meeting is cancelled.", errors={"start": ["cancelled"]})
    if item.starts_at <= now:
        raise Invalid(
            "This meeting has already started.", errors={"start": ["RSVP before it starts"]}
        )
    entry = session.scalar(
        select(GroupRsvp).where(
            GroupRsvp.group_id == group_id,
            GroupRsvp.occurrence_start == original_start,
            GroupRsvp.graduate_id == me.graduate_id,
        )
    )
    if entry is None:
        entry = GroupRsvp(
            group_id=group_id, occurrence_start=original_start, graduate_id=me.graduate_id
        )
        session.add(entry)
    entry.going, entry.responded_at = response == "yes", now
    session.flush()
    if not entry.going:
        completion.group_meeting_changed(
            session=session,
            group_id=group_id,
            original_start=original_start,
            graduate_id=me.graduate_id,
        )
    return {"original_start": original_start, "response": response, "responded_at": now}
