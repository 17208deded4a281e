from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema
from api.flags.rules import KINDS
from api.flags.service import OUTCOMES


class FlagQuery(Schema):
    status = fields.String(validate=validate.OneOf(("open", "acknowledged", "resolved")))
    graduate_id = fields.UUID()


class Flag(Schema):
    id = fields.UUID()
    graduate_id = fields.UUID()
    kind = fields.String(metadata={"enum": list(KINDS)})
    source = fields.String(metadata={"description": "mood, or substance_use (42 CFR Part 2)"})
    status = fields.String()
    rule = fields.String()
    rules_version = fields.String()
    explanation = fields.String()
    evidence = fields.List(fields.String(), metadata={"description": "check-in ids"})
    details = fields.Dict()
    raised_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    superseded_by = fields.UUID(allow_none=True)
    escalated_at = fields.AwareDateTime(allow_none=True)


class Acknowledge(Schema):
    note = fields.String(validate=validate.Length(max=2000))


class Resolve(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = fields.String(required=True, validate=validate.Length(1, 2000))


class ContactRequested(Schema):
    message = fields.String()


class FlagEvent(Schema):
    at = fields.AwareDateTime()
    action = fields.String(
        metadata={"description": "raised, updated, acknowledged, resolved, superseded, escalated"}
    )
    actor_user_id = fields.UUID(allow_none=True, metadata={"description": "null: the system"})
    details = fields.Dict()
