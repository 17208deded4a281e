"""Console pages for running groups: coordinators (the groups staff assigned them) and staff.

Every page calls the group service the API's group routes call, so `api.access` decides
which groups a coordinator reaches; nothing here reads a graduate's clinical record.
Meetings are shown on the wall clock of the group's zone and addressed, as in the API, by
their original start in UTC.
"""

from __future__ import annotations

import calendar
import uuid
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import marshmallow as ma
from flask import g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns

from api.console.views import RUNNERS, STAFF, blp, for_roles
from api.errors import Invalid
from api.groups import announcements as announcements_service
from api.groups import attendance as attendance_service
from api.groups import coordinators as coordinators_service
from api.groups import meetings as meetings_service
from api.groups import membership as membership_service
from api.groups import schemas as group_schemas
from api.groups import service as groups_service
from api.groups.models import ATTENDANCE, MEMBER, GroupMember
from api.programs.models import Program
from api.runtime import runtime

runs_groups = for_roles(RUNNERS, "Groups are run by the program's coordinators and staff.")
ENGAGEMENT_MONTHS = 6


def program_for(actor: Any, roles: frozenset[str]) -> uuid.UUID:
    """The program a page is about: `program` (in the query, or a form's hidden field) when
    the reader holds `roles` there, else the first such program (most people have one).
    The page offers the others (`program_choices`), and its forms post the one shown."""
    held = sorted({str(pid) for pid, role in actor.memberships if role.value in roles})
    wanted = request.values.get("program")
    chosen = uuid.UUID(wanted if wanted in held else held[0])
    g.program_id = chosen
    if len(held) > 1:
        session = runtime().db.session()
        g.program_choices = session.execute(
            select(Program.id, Program.name)
            .where(Program.id.in_([uuid.UUID(each) for each in held]))
            .order_by(Program.name)
        ).all()
    return chosen


@blp.app_context_processor
def _program() -> dict[str, Any]:
    return {"program_id": g.get("program_id"), "program_choices": g.get("program_choices")}


def meeting_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _context() -> dict[str, Any]:
    rt = runtime()
    return {"session": rt.db.session(), "actor": g.actor, "now": rt.clock.now()}


@blp.app_template_filter("local")
def _local(moment: datetime, zone: str) -> str:
    """ "Tue 10 Nov 2026, 18:00": a meeting on its group's wall clock."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


@blp.app_template_filter("meeting_key")
def _meeting_key(moment: datetime) -> str:
    return meeting_key(moment)


# --- the list ---------------------------------------------------------------------------------


@blp.get("/groups")
@runs_groups
def groups() -> str:
    rt = runtime()
    program_id = program_for(g.actor, RUNNERS)
    found = (
        rt.db.session()
        .scalars(
            groups_service.listed(
                session=rt.db.session(), actor=g.actor, program_id=program_id, archived=False
            )
        )
        .all()
    )
    return render_template("console/groups.html", groups=found)


# --- one group --------------------------------------------------------------------------------


def _month(zone: str, now: datetime) -> date:
    asked = request.args.get("month", "")
    try:
        return datetime.strptime(asked, "%Y-%m").date()
    except ValueError:
        return now.astimezone(zoneinfo.ZoneInfo(zone)).date().replace(day=1)


def _weeks(first: date, meetings: list[dict[str, Any]], zone: str) -> list[list[dict]]:
    """The month as weeks from Monday; each day with the meetings that fall on it locally."""
    tz = zoneinfo.ZoneInfo(zone)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for item in meetings:
        by_day.setdefault(item["starts_at"].astimezone(tz).date(), []).append(item)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        weeks.append(
            [
                {"day": day, "in_month": day.month == first.month, "meetings": by_day.get(day, [])}
                for day in week
            ]
        )
    return weeks


@blp.get("/groups/<uuid:group_id>")
@runs_groups
def group_page(group_id: uuid.UUID) -> str:
    rt = runtime()
    session, now = rt.db.session(), rt.clock.now()
    detail = groups_service.read(session=session, actor=g.actor, group_id=group_id)
    group = detail["group"]
    first = _month(group.timezone, now)
    tz = zoneinfo.ZoneInfo(group.timezone)
    last = (first + timedelta(days=31)).replace(day=1)
    start = datetime.combine(first - timedelta(days=7), time(), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=7), time(), tz).astimezone(UTC)
    meetings = meetings_service.meetings(
        session=session, actor=g.actor, group_id=group_id, start=start, end=end, now=now
    )
    news = session.scalars(
        announcements_service.announcements(
            session=session, actor=g.actor, group_id=group_id
        ).limit(10)
    ).all()
    engagement = attendance_service.engagement(
        session=session, actor=g.actor, group_id=group_id, months=ENGAGEMENT_MONTHS, now=now
    )
    coordinators = coordinators_service.coordinators(
        session=session, actor=g.actor, group_id=group_id
    )
    return render_template(
        "console/group.html",
        group=group,
        waitlist=detail["waitlist_count"],
        month=first,
        previous=(first - timedelta(days=1)).replace(day=1),
        following=last,
        weeks=_weeks(first, meetings, group.timezone),
        upcoming=[m for m in meetings if m["starts_at"] >= now][:5],
        past=[m for m in meetings if m["starts_at"] < now and not m["cancelled"]][-5:],
        news=news,
        engagement=engagement,
        coordinators=coordinators,
        is_staff=bool(g.actor.roles & STAFF),
        days=DAYS,
        weekly_day=group.rrule.rsplit("BYDAY=", 1)[-1][:2] if "BYDAY=" in group.rrule else "",
        done=request.args.get("done"),
    )


@blp.post("/groups/<uuid:group_id>/announcements")
@runs_groups
def group_announce(group_id: uuid.UUID) -> BaseResponse:
    try:
        body = group_schemas.AnnouncementIn().load(
            {"title": request.form.get("title", "").strip(), "body": request.form.get("body", "")}
        )
    except ma.ValidationError as exc:
        raise Invalid(
            "Give the announcement a title and some text.", errors=exc.normalized_messages()
        ) from None
    announcements_service.announce(group_id=group_id, **body, **_context())
    return redirect(url_for(".group_page", group_id=group_id, done="announced"), 303)


@blp.post("/groups/<uuid:group_id>/coordinators")
@for_roles(STAFF, "Program staff assign coordinators to groups.")
def group_coordinators(group_id: uuid.UUID) -> BaseResponse:
    emails = [e.strip() for e in request.form.get("emails", "").replace(",", "\n").split()]
    coordinators_service.assign_coordinators(
        group_id=group_id, emails=[e for e in emails if e], **_context()
    )
    return redirect(url_for(".group_page", group_id=group_id, done="assigned"), 303)


DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}


@blp.post("/groups/<uuid:group_id>/schedule")
@runs_groups
def group_schedule(group_id: uuid.UUID) -> BaseResponse:
    """A new weekly rule (`PATCH /groups/{id}` with rrule and starts_at_local), anchored in
    the week of the first meeting; answers to coming meetings follow them or are cleared
    with a notice to the members (the service does both)."""
    rt = runtime()
    day, at = request.form.get("day", ""), request.form.get("time", "")
    try:
        clock_time = time.fromisoformat(at)
    except ValueError:
        clock_time = None
    if day not in DAYS or clock_time is None:
        raise Invalid("Choose a day and a time.", errors={"day": ["a weekday"], "time": ["HH:MM"]})
    group = groups_service.read(session=rt.db.session(), actor=g.actor, group_id=group_id)["group"]
    first = group.starts_at_local.date()
    anchor = first + timedelta(days=list(DAYS).index(day) - first.weekday())
    groups_service.update_group(
        group_id=group_id,
        rrule=f"FREQ=WEEKLY;BYDAY={day}",
        starts_at_local=datetime.combine(anchor, clock_time),
        **_context(),
    )
    return redirect(url_for(".group_page", group_id=group_id, done="schedule"), 303)


# --- one meeting ------------------------------------------------------------------------------


@blp.get("/groups/<uuid:group_id>/meetings/<string:start>")
@runs_groups
def meeting_page(group_id: uuid.UUID, start: str) -> str:
    rt = runtime()
    session, now = rt.db.session(), rt.clock.now()
    original = meetings_service.parse_start(start)
    detail = groups_service.read(session=session, actor=g.actor, group_id=group_id)
    group = detail["group"]
    item = meetings_service.occurrence(session=session, group=group, original_start=original)
    seated = session.scalars(
        membership_service.members(session=session, actor=g.actor, group_id=group_id).where(
            GroupMember.status == MEMBER
        )
    ).all()
    register = {
        row.graduate_id: row.status
        for row in attendance_service.attendance(
            session=session, actor=g.actor, group_id=group_id, original_start=original
        )
    }
    local = item.starts_at_local
    return render_template(
        "console/meeting.html",
        group=group,
        meeting=item,
        key=meeting_key(original),
        members=sorted(seated, key=lambda m: m.graduate.display_name.lower()),
        register=register,
        statuses=ATTENDANCE,
        can_record=not item.cancelled and item.starts_at <= now,
        local_date=local.date().isoformat(),
        local_time=local.strftime("%H:%M"),
        done=request.args.get("done"),
    )


@blp.post("/groups/<uuid:group_id>/meetings/<string:start>/attendance")
@runs_groups
def meeting_attendance(group_id: uuid.UUID, start: str) -> BaseResponse:
    records = [
        {"graduate_id": key.removeprefix("status-"), "status": value}
        for key, value in request.form.items()
        if key.startswith("status-")
    ]
    try:
        body = group_schemas.AttendanceIn().load({"records": records})
    except ma.ValidationError as exc:
        raise Invalid(
            "Mark each member present, absent or excused.", errors=exc.normalized_messages()
        ) from None
    attendance_service.record_attendance(
        group_id=group_id,
        original_start=meetings_service.parse_start(start),
        records=body["records"],
        **_context(),
    )
    return redirect(
        url_for(".meeting_page", group_id=group_id, start=start, done="attendance"), 303
    )


@blp.post("/groups/<uuid:group_id>/meetings/<string:start>")
@runs_groups
def meeting_change(group_id: uuid.UUID, start: str) -> BaseResponse:
    """Move one meeting (a new local date and time, or place) or cancel it; "restore"
    undoes any change."""
    form = request.form
    raw: dict[str, Any] = {"cancelled": form.get("change") == "cancel"}
    if form.get("change") == "move":
        raw["starts_at_local"] = f"{form.get('date', '')}T{form.get('time', '')}:00"
        if form.get("location", "").strip():
            raw["location"] = form["location"].strip()
    if form.get("change") in ("move", "cancel") and form.get("note", "").strip():
        raw["note"] = form["note"].strip()
    try:
        body = group_schemas.MeetingChange().load(raw)
    except ma.ValidationError as exc:
        raise Invalid("Check the new date and time.", errors=exc.normalized_messages()) from None
    meetings_service.change_meeting(
        group_id=group_id, original_start=meetings_service.parse_start(start), **body, **_context()
    )
    return redirect(url_for(".meeting_page", group_id=group_id, start=start, done="changed"), 303)
