from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, request
from flask.views import MethodView
from marshmallow import RAISE

from api.extensions.smorest import Blueprint, SelectPage
from api.groups import (
    announcements,
    attendance,
    calendar,
    coordinators,
    meetings,
    membership,
    service,
)
from api.groups import schemas as s
from api.runtime import runtime

blp = Blueprint(
    "groups",
    __name__,
    url_prefix="/api/v1",
    description="Alumni and aftercare groups: meetings, membership, attendance, announcements",
)
GROUP = "/groups/<uuid:group_id>"
MEETING = f"{GROUP}/occurrences/<string:start>"
RUNNERS = ("coordinator", "staff")
EVERYONE = ("coordinator", "staff", "graduate")


def _context() -> dict[str, Any]:
    rt = runtime()
    return {"session": rt.db.session(), "actor": g.actor, "now": rt.clock.now()}


def _reader() -> dict[str, Any]:
    return {"session": runtime().db.session(), "actor": g.actor}


def _feed_url(token: str) -> str:
    return f"{request.host_url.rstrip('/')}/api/v1/group-calendar/{token}.ics"


@blp.route("/programs/<uuid:program_id>/groups")
class ProgramGroups(MethodView):
    @blp.requires(*EVERYONE)
    @blp.arguments(s.GroupQuery, location="query")
    @blp.response(200, s.Group(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict, program_id: uuid.UUID):
        """The program's groups by name: running ones for graduates (?archived=true adds the
        archived ones for coordinators and staff)."""
        return service.listed(program_id=program_id, archived=query["archived"], **_reader())

    @blp.requires(*RUNNERS)
    @blp.arguments(s.GroupIn)
    @blp.response(201, s.Group)
    def post(self, body: dict, program_id: uuid.UUID):
        """Start a group with its recurring meetings (coordinators and staff)."""
        return service.create(program_id=program_id, **body, **_context())


@blp.route(GROUP)
class GroupView(MethodView):
    @blp.requires(*EVERYONE)
    @blp.response(200, s.GroupDetail)
    def get(self, group_id: uuid.UUID):
        """The group; a graduate also sees their own place in it."""
        return service.read(group_id=group_id, **_reader())

    @blp.requires(*RUNNERS)
    @blp.arguments(s.GroupPatch)
    @blp.response(200, s.Group)
    def patch(self, body: dict, group_id: uuid.UUID):
        """Change the group; more seats go to the waitlist in order, fewer may unseat no one."""
        return service.update_group(group_id=group_id, **body, **_context())


@blp.route(f"{GROUP}/coordinators")
class GroupCoordinators(MethodView):
    @blp.requires(*RUNNERS)
    @blp.response(200, s.Coordinator(many=True))
    def get(self, group_id: uuid.UUID):
        """The coordinators assigned to run the group (empty: every coordinator runs it)."""
        return coordinators.coordinators(group_id=group_id, **_reader())

    @blp.requires("staff")
    @blp.arguments(s.CoordinatorsIn)
    @blp.response(200, s.Coordinator(many=True))
    def put(self, body: dict, group_id: uuid.UUID):
        """Assign the group to these coordinators (staff); they alone run it from now on."""
        return coordinators.assign_coordinators(group_id=group_id, **body, **_context())


@blp.route(f"{GROUP}/archive")
class GroupArchive(MethodView):
    @blp.requires(*RUNNERS)
    @blp.response(200, s.Group)
    def post(self, group_id: uuid.UUID):
        """End the group: hidden from browsing and feeds; its attendance history stays."""
        return service.archive(group_id=group_id, **_context())


@blp.route(f"{GROUP}/occurrences")
class GroupMeetings(MethodView):
    @blp.requires(*EVERYONE)
    @blp.arguments(s.WindowQuery, location="query", unknown=RAISE)
    @blp.response(200, s.Meeting(many=True))
    def get(self, query: dict, group_id: uuid.UUID):
        """Meetings whose original start is between ?from= and ?to= (at most 400 days)."""
        return meetings.meetings(group_id=group_id, **query, **_context())


@blp.route(MEETING)
class GroupMeeting(MethodView):
    @blp.requires(*RUNNERS)
    @blp.arguments(s.MeetingChange)
    @blp.response(200, s.Meeting)
    def put(self, body: dict, group_id: uuid.UUID, start: str):
        """Cancel one meeting or move it in time or place (no change restores it)."""
        return meetings.change_meeting(
            group_id=group_id, original_start=meetings.parse_start(start), **body, **_context()
        )


@blp.route(f"{MEETING}/rsvp")
class MeetingRsvp(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.RsvpIn)
    @blp.response(200, s.Rsvp)
    def put(self, body: dict, group_id: uuid.UUID, start: str):
        """Yes or no to a meeting still to come (a member with a seat)."""
        return meetings.rsvp(
            group_id=group_id, original_start=meetings.parse_start(start), **body, **_context()
        )


@blp.route(f"{MEETING}/attendance")
class MeetingAttendance(MethodView):
    @blp.requires(*RUNNERS)
    @blp.response(200, s.Attendance(many=True))
    def get(self, group_id: uuid.UUID, start: str):
        """The register of one meeting."""
        return attendance.attendance(
            group_id=group_id, original_start=meetings.parse_start(start), **_reader()
        )

    @blp.requires(*RUNNERS)
    @blp.arguments(s.AttendanceIn)
    @blp.response(200, s.Attendance(many=True))
    def put(self, body: dict, group_id: uuid.UUID, start: str):
        """Replace the register of a meeting that has happened: present, absent or excused
        per member (sending the same list again changes nothing)."""
        return attendance.record_attendance(
            group_id=group_id, original_start=meetings.parse_start(start), **body, **_context()
        )


@blp.route(f"{GROUP}/membership")
class GroupMembership(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.JoinIn)
    @blp.response(201, s.MyMembership)
    def post(self, body: dict, group_id: uuid.UUID):
        """Join: a seat if one is free, else the waitlist (status says which)."""
        return membership.join(group_id=group_id, **body, **_context())

    @blp.requires("graduate")
    @blp.arguments(s.MembershipPatch)
    @blp.response(200, s.MyMembership)
    def patch(self, body: dict, group_id: uuid.UUID):
        """Choose whether other members who share theirs may see my display name."""
        return membership.update_membership(group_id=group_id, **body, **_reader())

    @blp.requires("graduate")
    @blp.response(204)
    def delete(self, group_id: uuid.UUID):
        """Leave the group (or its waitlist). No reason is asked and nobody is told."""
        membership.leave(group_id=group_id, **_context())


@blp.route(f"{GROUP}/members")
class GroupMembers(MethodView):
    @blp.requires(*RUNNERS)
    @blp.response(200, s.GroupMember(many=True))
    @blp.paginate(SelectPage)
    def get(self, group_id: uuid.UUID):
        """Members then the waitlist, by display name (the group's coordinators and staff)."""
        return membership.members(group_id=group_id, **_reader())


@blp.route(f"{GROUP}/peers")
class GroupPeers(MethodView):
    @blp.requires("graduate")
    @blp.response(200, s.Peers)
    def get(self, group_id: uuid.UUID):
        """For a member who shares their name: who else does, and how many others there are."""
        return membership.peers(group_id=group_id, **_reader())


@blp.route(f"{GROUP}/announcements")
class GroupAnnouncements(MethodView):
    @blp.requires(*EVERYONE)
    @blp.response(200, s.Announcement(many=True))
    @blp.paginate(SelectPage)
    def get(self, group_id: uuid.UUID):
        """The group's announcements, newest first (members, coordinators and staff)."""
        return announcements.announcements(group_id=group_id, **_reader())

    @blp.requires(*RUNNERS)
    @blp.arguments(s.AnnouncementIn)
    @blp.response(201, s.Announcement)
    def post(self, body: dict, group_id: uuid.UUID):
        """Tell the members something; the full text is read in the app."""
        return announcements.announce(group_id=group_id, **body, **_context())


@blp.route(f"{GROUP}/engagement")
class GroupEngagement(MethodView):
    @blp.requires(*RUNNERS)
    @blp.arguments(s.EngagementQuery, location="query", unknown=RAISE)
    @blp.response(200, s.Engagement)
    def get(self, query: dict, group_id: uuid.UUID):
        """Attendance rate and members active per month (?months=, default 6): counts only;
        any other parameter (a score, a flag) is refused."""
        return attendance.engagement(group_id=group_id, **query, **_context())


@blp.route(f"{GROUP}/calendar-feed")
class GroupFeed(MethodView):
    @blp.requires(*EVERYONE)
    @blp.arguments(s.GroupFeedIn)
    @blp.response(201, s.GroupFeed)
    def post(self, body: dict, group_id: uuid.UUID):
        """A secret calendar address for this group's meetings; my earlier one stops working."""
        token, feed = calendar.create_for_group(group_id=group_id, **body, **_context())
        return {"url": _feed_url(token), "show_place": feed.show_place}

    @blp.requires(*EVERYONE)
    @blp.response(204)
    def delete(self, group_id: uuid.UUID):
        """Turn my calendar address for this group off."""
        calendar.revoke_for_group(group_id=group_id, **_context())


@blp.route("/graduates/<uuid:graduate_id>/group-calendar-feed")
class GraduateGroupFeed(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.GroupFeedIn)
    @blp.response(201, s.GroupFeed)
    def post(self, body: dict, graduate_id: uuid.UUID):
        """A secret calendar address for the meetings of all my groups; the old one stops."""
        token, feed = calendar.create_for_graduate(graduate_id=graduate_id, **body, **_context())
        return {"url": _feed_url(token), "show_place": feed.show_place}

    @blp.requires("graduate")
    @blp.response(204)
    def delete(self, graduate_id: uuid.UUID):
        """Turn the calendar address of my groups off."""
        calendar.revoke_for_graduate(graduate_id=graduate_id, **_context())


@blp.route("/group-calendar/<string:token>.ics")
class GroupCalendarFile(MethodView):
    @blp.public
    @blp.response(200, content_type="text/calendar")
    def get(self, token: str):
        """The iCalendar file behind a secret group feed (no sign-in: the address is the key)."""
        rt = runtime()
        body = calendar.render(session=rt.db.session(), token=token, now=rt.clock.now())
        return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-store"})
