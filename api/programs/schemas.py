from __future__ import annotations

import zoneinfo

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from api.extensions.smorest import Schema
from api.programs.hours import DAYS, working_hours
from api.programs.models import Role

HH_MM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM, 00:00 to 23:59")


class MemberCreate(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    role = fields.Enum(Role, by_value=True, required=True)


class MemberQuery(Schema):
    role = fields.Enum(Role, by_value=True)


class Member(Schema):
    id = fields.UUID()
    program_id = fields.UUID()
    email = fields.String()
    role = fields.Enum(Role, by_value=True)
    user_id = fields.UUID(allow_none=True, metadata={"description": "null until they sign in"})
    created_at = fields.DateTime()


class ProgramRole(Schema):
    program_id = fields.UUID()
    role = fields.Enum(Role, by_value=True)


PHONE = validate.Regexp(
    r"^\+?[0-9][0-9 ()\-.]{1,30}$", error="a phone number the app can dial, e.g. +1 555 0100"
)


class CrisisLine(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    phone = fields.String(required=True, validate=PHONE)
    text = fields.String(
        load_default=None,
        allow_none=True,
        validate=PHONE,
        metadata={"description": "an SMS number, or null"},
    )


class WorkingHours(Schema):
    start = fields.String(required=True, validate=HH_MM)
    end = fields.String(required=True, validate=HH_MM)
    days = fields.List(
        fields.String(validate=validate.OneOf(DAYS)),
        required=True,
        validate=validate.Length(1, 7),
        metadata={"description": "mon … sun"},
    )

    @validates_schema
    def start_before_end(self, data: dict, **_: object) -> None:
        if data["start"] >= data["end"]:
            raise ValidationError("must be after start", "end")


class ProgramUpdate(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    phone = fields.String(allow_none=True, validate=PHONE)
    crisis_lines = fields.List(
        fields.Nested(CrisisLine),
        validate=validate.Length(1, 10),
        metadata={"description": "shown on every crisis path; at least one"},
    )
    timezone = fields.String(
        allow_none=True,
        validate=validate.Length(1, 64),
        metadata={"description": "IANA zone of the working hours; null: most graduates' zone"},
    )
    working_hours = fields.Nested(
        WorkingHours,
        allow_none=True,
        metadata={"description": "when step-up alerts go out; null: 08:00-18:00 Mon-Fri"},
    )

    @validates("timezone")
    def known_zone(self, value: str | None, **_: object) -> None:
        if value is None:
            return
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError("not an IANA zone") from None


class ProgramOut(Schema):
    id = fields.UUID()
    name = fields.String()
    phone = fields.String(allow_none=True)
    crisis_lines = fields.List(fields.Nested(CrisisLine))
    created_at = fields.AwareDateTime()
    timezone = fields.String(allow_none=True)
    working_hours = fields.Function(working_hours, metadata={"description": "in effect"})
