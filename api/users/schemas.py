from __future__ import annotations

from marshmallow import fields

from api.extensions.smorest import Schema
from api.programs.schemas import ProgramRole


class Me(Schema):
    id = fields.UUID()
    email = fields.String()
    memberships = fields.List(fields.Nested(ProgramRole))
    graduate_id = fields.UUID(allow_none=True)
