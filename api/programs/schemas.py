from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema
from api.programs.models import Role


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


class ProgramUpdate(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    phone = fields.String(allow_none=True, validate=PHONE)
    crisis_lines = fields.List(
        fields.Nested(CrisisLine),
        validate=validate.Length(1, 10),
        metadata={"description": "shown on every crisis path; at least one"},
    )


class ProgramOut(Schema):
    id = fields.UUID()
    name = fields.String()
    phone = fields.String(allow_none=True)
    crisis_lines = fields.List(fields.Nested(CrisisLine))
    created_at = fields.AwareDateTime()
