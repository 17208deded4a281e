from __future__ import annotations

from marshmallow import fields

from api.extensions.smorest import Schema


class AuditQuery(Schema):
    graduate_id = fields.UUID()
    action = fields.String()


class AuditEvent(Schema):
    id = fields.UUID()
    occurred_at = fields.DateTime()
    actor_user_id = fields.UUID(allow_none=True)
    actor_role = fields.String()
    action = fields.String()
    graduate_id = fields.UUID(allow_none=True)
    route = fields.String(allow_none=True)
    outcome = fields.String()
    request_id = fields.String(allow_none=True)
