"""Groups the coordinators run: meetings, seats and the waitlist, RSVPs, attendance, news.

Staff run all of a program's groups, coordinators the ones staff assigned them (all of
them while a group has no assigned coordinator); its graduates browse, join,
leave and RSVP. Nothing here reads a graduate's clinical record: attendance flows one way,
into the flag rules, and nothing about a flag comes back.
"""

from __future__ import annotations

import itertools
import uuid
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrulestr
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.flags import rules as flag_rules
from api.flags.service import raise_signal
from api.flags.time_rules import during_watch
from api.graduates.models import Graduate
from api.graduates.service import check_timezone
from api.groups.models import (
    MEMBER,
    WAITLISTED,
    Group,
    GroupAnnouncement,
    GroupAttendance,
    GroupCalendarFeed,
    GroupCoordinator,
    GroupMember,
    GroupOccurrenceChange,
    GroupRsvp,
)
from api.notifications.service import Planned, enqueue
from api.plans import recurrence
from api.programs.models import Membership, Role
from api.reminders import completion

MAX_PER_WEEK = 3  # more meetings than this in any 7 days is not a group, it is a mistake
ALLOWED_FREQUENCIES = {DAILY, WEEKLY, MONTHLY, YEARLY}
MAX_WINDOW = timedelta(days=400)
SIGNAL_LOOKBACK = timedelta(days=120)
NO_OCCURRENCE = "No meeting of this group starts at that time."
RULE_HELP = "an RFC 5545 RRULE in the group's local time, e.g. FREQ=WEEKLY;BYDAY=TU"
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


# --- recurrence ----------------------------------------------------------------------


def check_rule(rule: str, start_local: datetime) -> None:
    """A rule a group can keep: daily at most, and no more than MAX_PER_WEEK in any 7 days.

    Unlike an appointment series, a group may run with no end date.
    """
    if not recurrence.RULE.match(rule) or "DTSTART" in rule.upper():
        raise Invalid("Recurrence rule not understood.", errors={"rrule": [RULE_HELP]})
    try:
        parsed = rrulestr(rule.removeprefix("RRULE:"), dtstart=start_local, forceset=False)
    except (ValueError, TypeError):
        raise Invalid("Recurrence rule not understood.", errors={"rrule": [RULE_HELP]}) from None
    if getattr(parsed, "_freq", None) not in ALLOWED_FREQUENCIES:
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


# --- groups --------------------------------------------------------------------------


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
        _membership(session, group_id, allowed.graduate.id)
        if allowed.graduate is not None
        else None
    )
    return {
        "group": allowed.group,
        "membership": own,
        "waitlist_count": _count(session, group_id, WAITLISTED) if allowed.manages else None,
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
    seated = _count(session, group.id, MEMBER)
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
    _compact_seats(session, group)
    _fill_seats(session, group)
    return group


def coordinators(*, session: Session, actor: Actor, group_id: uuid.UUID) -> list[Membership]:
    """The coordinators assigned to the group (none: every coordinator of the program)."""
    access.group(session=session, actor=actor, group_id=group_id, manage=True)
    return list(
        session.scalars(
            select(Membership)
            .join(GroupCoordinator, GroupCoordinator.membership_id == Membership.id)
            .where(GroupCoordinator.group_id == group_id)
            .order_by(Membership.email)
        )
    )


def assign_coordinators(
    *, session: Session, actor: Actor, group_id: uuid.UUID, emails: list[str], now: datetime
) -> list[Membership]:
    """Staff choose who runs the group: the program's coordinators named by `emails` (an
    empty list hands it back to every coordinator of the program)."""
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    access.program(session=session, actor=actor, program_id=group.program_id, role=Role.STAFF)
    wanted = {email.strip().lower() for email in emails}
    found = {
        member.email: member
        for member in session.scalars(
            select(Membership).where(
                Membership.program_id == group.program_id,
                Membership.role == Role.COORDINATOR,
                Membership.email.in_(wanted),
            )
        )
    }
    if missing := sorted(wanted - set(found)):
        raise Invalid(
            "Only the program's coordinators can run a group.",
            errors={"emails": [f"not a coordinator of this program: {e}" for e in missing]},
        )
    session.execute(delete(GroupCoordinator).where(GroupCoordinator.group_id == group_id))
    for member in found.values():
        session.add(GroupCoordinator(group_id=group_id, membership_id=member.id, created_at=now))
    session.flush()
    return sorted(found.values(), key=lambda member: member.email)


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


# --- single meetings -----------------------------------------------------------------


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
    me = _seated_member(session, allowed)
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


# --- attendance and the engagement signal ----------------------------------------------


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


# --- membership and the waitlist ------------------------------------------------------


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
    member = _membership(session, group_id, _as_graduate(allowed).id)
    if member is None:
        raise NotFound("You are not in this group.")
    member.share_name = share_name
    return member


def leave(*, session: Session, actor: Actor, group_id: uuid.UUID, now: datetime) -> None:
    """No reason asked, nobody told. Their RSVPs to meetings to come go; the first on the
    waitlist takes the seat."""
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    me = _as_graduate(allowed)
    member = _membership(session, group_id, me.id)
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
    _fill_seats(session, allowed.group)


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
    me = _seated_member(session, allowed)
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


def _seated_member(session: Session, allowed: access.GroupAccess) -> GroupMember:
    member = _membership(session, allowed.group.id, _as_graduate(allowed).id)
    if member is None:
        raise Forbidden("This is for the group's members; join it first.")
    if member.status != MEMBER:
        raise Invalid("You are on this group's waitlist; this opens once you have a seat.")
    return member


def _membership(
    session: Session, group_id: uuid.UUID, graduate_id: uuid.UUID
) -> GroupMember | None:
    return session.scalar(
        select(GroupMember).where(
            GroupMember.group_id == group_id, GroupMember.graduate_id == graduate_id
        )
    )


def _refuse_twice(session: Session, group_id: uuid.UUID, graduate_id: uuid.UUID) -> None:
    existing = _membership(session, group_id, graduate_id)
    if existing is not None:
        where = "on this group's waitlist" if existing.status == WAITLISTED else "in this group"
        raise Conflict(f"You are already {where}.")


def _count(session: Session, group_id: uuid.UUID, status: str) -> int:
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


def _compact_seats(session: Session, group: Group) -> None:
    """After the capacity falls, members seated above it move to free seats below it."""
    above = session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group.id, GroupMember.seat > group.capacity)
        .order_by(GroupMember.seat)
    ).all()
    for member, seat in zip(above, _free_seats(session, group), strict=False):
        member.seat = seat
        session.flush()


def _fill_seats(session: Session, group: Group) -> None:
    """Free seats go to the waitlist, first come first seated."""
    waiting = session.scalars(
        select(GroupMember)
        .where(GroupMember.group_id == group.id, GroupMember.status == WAITLISTED)
        .order_by(GroupMember.id)
    ).all()
    for member, seat in zip(waiting, _free_seats(session, group), strict=False):
        member.status, member.seat = MEMBER, seat
    session.flush()


# --- announcements -------------------------------------------------------------------


def announce(
    *, session: Session, actor: Actor, group_id: uuid.UUID, title: str, body: str, now: datetime
) -> GroupAnnouncement:
    """Stored with its full text for the app; a push carries generic words only."""
    access.group(session=session, actor=actor, group_id=group_id, manage=True)
    item = GroupAnnouncement(
        group_id=group_id, title=title, body=body, author_user_id=actor.user_id, created_at=now
    )
    session.add(item)
    session.flush()
    enqueue(
        session,
        items=[
            Planned(
                user_id, "group_announcement", f"announcement:{item.id}", now, link=str(item.id)
            )
            for user_id in announcement_recipients(session, announcement_id=item.id)
        ],
        now=now,
    )
    return item


def announcements(
    *, session: Session, actor: Actor, group_id: uuid.UUID
) -> Select[GroupAnnouncement]:
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    if not allowed.manages:
        _seated_member(session, allowed)
    return (
        select(GroupAnnouncement)
        .where(GroupAnnouncement.group_id == group_id)
        .order_by(GroupAnnouncement.created_at.desc(), GroupAnnouncement.id)
    )


def announcement_recipients(session: Session, *, announcement_id: uuid.UUID) -> list[uuid.UUID]:
    """User ids to push an announcement to: the group's seated members who have signed in.
    The push's words come from its kind; the title and text are read in the app."""
    return list(
        session.scalars(
            select(Graduate.user_id)
            .join(GroupMember, GroupMember.graduate_id == Graduate.id)
            .join(GroupAnnouncement, GroupAnnouncement.group_id == GroupMember.group_id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(
                GroupAnnouncement.id == announcement_id,
                GroupMember.status == MEMBER,
                Group.archived_at.is_(None),
                Graduate.user_id.is_not(None),
            )
            .order_by(GroupMember.id)
        )
    )


# --- engagement ----------------------------------------------------------------------


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
        "members": _count(session, group_id, MEMBER),
        "waitlisted": _count(session, group_id, WAITLISTED),
        "months": report,
    }


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
