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
