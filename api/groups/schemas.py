from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.extensions.smorest import Schema, StrictBoolean
from api.groups.models import ATTENDANCE, KINDS, MAX_CAPACITY, MODES


def _group_fields(*, new: bool) -> dict[str, fields.Field]:
    """A new group needs every field but the place or link its mode does not use; a change
    sends any of them."""

    def need(**options: Any) -> dict[str, Any]:
        return {"required": True, **options} if new else options

    def default(value: Any) -> dict[str, Any]:
        return {"load_default": value} if new else {}

    return {
        "name": fields.String(**need(validate=validate.Length(1, 120))),
        "kind": fields.String(**need(validate=validate.OneOf(KINDS))),
        "mode": fields.String(**need(validate=validate.OneOf(MODES))),
        "location": fields.String(
            allow_none=True,
            validate=validate.Length(1, 300),
            **default(None),
        ),
        "video_url": fields.URL(
            allow_none=True,
            schemes={"https"},
            validate=validate.Length(1, 500),
            **default(None),
        ),
        "capacity": fields.Integer(**need(strict=True, validate=validate.Range(1, MAX_CAPACITY))),
        "description": fields.String(validate=validate.Length(0, 4000), **default("")),
        "facilitator": fields.String(**need(validate=validate.Length(1, 120))),
        "timezone": fields.String(
            **need(validate=validate.Length(1, 64), metadata={"example": "America/New_York"})
        ),
        "starts_at_local": fields.NaiveDateTime(
            **need(metadata={"description": "The first meeting, wall-clock time in the zone"})
        ),
        "duration_minutes": fields.Integer(**need(strict=True, validate=validate.Range(10, 480))),
        "rrule": fields.String(
            **need(
                validate=validate.Length(1, 300),
                metadata={
                    "description": "RFC 5545 RRULE in the group's zone: daily at most, no more "
                    "than 3 meetings in any 7 days; may run without an end",
                    "example": "FREQ=WEEKLY;BYDAY=TU",
                },
            )
        ),
    }


GroupIn = Schema.from_dict(_group_fields(new=True), name="GroupIn")
GroupPatch = Schema.from_dict(_group_fields(new=False), name="GroupPatch")


class Group(Schema):
    id = fields.UUID()
    program_id = fields.UUID()
    name = fields.String()
    kind = fields.String()
    mode = fields.String()
    location = fields.String(allow_none=True)
    video_url = fields.String(allow_none=True)
    capacity = fields.Integer()
    seats_left = fields.Integer()
    description = fields.String()
    facilitator = fields.String()
    timezone = fields.String()
    starts_at = fields.AwareDateTime()
    starts_at_local = fields.NaiveDateTime()
    duration_minutes = fields.Integer()
    rrule = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    archived_at = fields.AwareDateTime(allow_none=True)


class GroupQuery(Schema):
    archived = fields.Boolean(
        truthy={"true"},
        falsy={"false"},
        load_default=False,
        metadata={"description": "Include archived groups (coordinators)"},
    )


class MyMembership(Schema):
    status = fields.String(metadata={"description": "member or waitlisted"})
    share_name = fields.Boolean()
    joined_at = fields.AwareDateTime()


class GroupDetail(Schema):
    group = fields.Nested(Group)
    membership = fields.Nested(MyMembership, allow_none=True)
    waitlist_count = fields.Integer(
        allow_none=True, metadata={"description": "For coordinators and staff"}
    )


class JoinIn(Schema):
    share_name = StrictBoolean(
        load_default=False,
        metadata={"description": "Let other members who share theirs see my display name"},
    )


class MembershipPatch(Schema):
    share_name = StrictBoolean(required=True)


class GroupMember(Schema):
    graduate_id = fields.UUID()
    display_name = fields.String(attribute="graduate.display_name")
    status = fields.String()
    joined_at = fields.AwareDateTime()


class Peers(Schema):
    names = fields.List(fields.String(), metadata={"description": "Members who share their name"})
    others = fields.Integer(metadata={"description": "Members who do not; never named"})


class WindowQuery(Schema):
    start = fields.AwareDateTime(data_key="from", required=True)
    end = fields.AwareDateTime(data_key="to", required=True)


class Meeting(Schema):
    original_start = fields.AwareDateTime(
        metadata={"description": "The meeting's key in URLs, whether or not it moved"}
    )
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    timezone = fields.String(metadata={"description": "The group's zone"})
    starts_at_local = fields.NaiveDateTime(
        metadata={"description": "When members meet, on the wall clock of the group's zone"}
    )
    original_start_local = fields.NaiveDateTime(
        metadata={"description": "The key's wall-clock time in the group's zone"}
    )
    cancelled = fields.Boolean()
    moved = fields.Boolean()
    location = fields.String(allow_none=True)
    video_url = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    my_rsvp = fields.String(allow_none=True, metadata={"description": "yes, no or null"})
    going = fields.Integer(allow_none=True, metadata={"description": "For coordinators"})


class MeetingChange(Schema):
    cancelled = StrictBoolean(required=True)
    starts_at_local = fields.NaiveDateTime(load_default=None, allow_none=True)
    duration_minutes = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(10, 480)
    )
    location = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 300))
    video_url = fields.URL(
        load_default=None, allow_none=True, schemes={"https"}, validate=validate.Length(1, 500)
    )
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 300))


class RsvpIn(Schema):
    response = fields.String(required=True, validate=validate.OneOf(("yes", "no")))


class Rsvp(Schema):
    original_start = fields.AwareDateTime()
    response = fields.String()
    responded_at = fields.AwareDateTime()


class AttendanceRecord(Schema):
    graduate_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ATTENDANCE))


class AttendanceIn(Schema):
    records = fields.List(
        fields.Nested(AttendanceRecord), required=True, validate=validate.Length(0, 500)
    )


class Attendance(Schema):
    graduate_id = fields.UUID()
    display_name = fields.String(attribute="graduate.display_name")
    status = fields.String()
    recorded_at = fields.AwareDateTime()


class AnnouncementIn(Schema):
    title = fields.String(required=True, validate=validate.Length(1, 200))
    body = fields.String(required=True, validate=validate.Length(1, 10000))


class Announcement(Schema):
    id = fields.UUID()
    group_id = fields.UUID()
    title = fields.String()
    body = fields.String()
    created_at = fields.AwareDateTime()


class EngagementQuery(Schema):
    months = fields.Integer(load_default=6, validate=validate.Range(1, 24))


class EngagementMonth(Schema):
    month = fields.String(metadata={"example": "2026-11"})
    meetings = fields.Integer()
    recorded = fields.Integer()
    present = fields.Integer()
    excused = fields.Integer()
    absent = fields.Integer()
    attendance_rate = fields.Float(allow_none=True)
    members_active = fields.Integer()


class Engagement(Schema):
    """Counts only: no scores, answers, flags or diagnoses, whatever is asked for."""

    group_id = fields.UUID()
    members = fields.Integer()
    waitlisted = fields.Integer()
    months = fields.List(fields.Nested(EngagementMonth))


class GroupFeedIn(Schema):
    show_place = StrictBoolean(load_default=False)


class GroupFeed(Schema):
    url = fields.String()
    show_place = fields.Boolean()


class CoordinatorsIn(Schema):
    emails = fields.List(
        fields.Email(),
        required=True,
        validate=validate.Length(0, 50),
        metadata={"description": "The program's coordinators who run this group; [] for all"},
    )


class Coordinator(Schema):
    email = fields.String()
    user_id = fields.UUID(allow_none=True, metadata={"description": "null until they sign in"})
