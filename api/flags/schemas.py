from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema
from api.flags.rules import (
    DEFAULT_RULES,
    KINDS,
    SHORTEST_STEP_UP_HOURS,
    SHORTEST_URGENT_MINUTES,
)
from api.flags.service import OUTCOMES
from api.vocabulary import FlagStatus


class FlagQuery(Schema):
    status = fields.String(validate=validate.OneOf(tuple(FlagStatus)))
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
    alert_status = fields.String(
        allow_none=True,
        metadata={
            "description": "urgent and step-up flags: queued (someone with a device or a "
            "verified email was alerted) or no_one_reached; null for other kinds"
        },
    )


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
        metadata={
            "description": "raised, alerted, updated, acknowledged, resolved, superseded, escalated"
        }
    )
    actor_user_id = fields.UUID(allow_none=True, metadata={"description": "null: the system"})
    details = fields.Dict()


class InstrumentNumbers(Schema):
    phq9 = fields.Integer(required=True, validate=validate.Range(1, 27))
    gad7 = fields.Integer(required=True, validate=validate.Range(1, 21))


class PhaseDays(Schema):
    month1 = fields.Integer(required=True, validate=validate.Range(3, 60))
    months2_3 = fields.Integer(required=True, validate=validate.Range(3, 60))
    months4_6 = fields.Integer(required=True, validate=validate.Range(3, 60))


class FlagRuleSettings(Schema):
    """A program's step-up numbers; a field left out takes DOMAIN.md's default."""

    rise = fields.Nested(
        InstrumentNumbers, metadata={"description": "points above the discharge baseline"}
    )
    moderate_at = fields.Integer(validate=validate.Range(5, 27))
    severe_at = fields.Nested(InstrumentNumbers)
    cooldown_days = fields.Integer(validate=validate.Range(0, 30))
    escalate_urgent_minutes = fields.Integer(
        validate=validate.Range(SHORTEST_URGENT_MINUTES, DEFAULT_RULES.escalate_urgent_minutes),
        metadata={"description": "never later than the hour DOMAIN.md allows"},
    )
    escalate_step_up_hours = fields.Integer(
        validate=validate.Range(SHORTEST_STEP_UP_HOURS, DEFAULT_RULES.escalate_step_up_hours)
    )
    inactive_days = fields.Nested(PhaseDays)
    on_call_emails = fields.List(
        fields.Email(),
        validate=validate.Length(max=50),
        metadata={"description": "staff who receive escalations; empty means all staff"},
    )


class FlagRules(Schema):
    number = fields.Integer(metadata={"description": "0: DOMAIN.md's defaults, never changed"})
    version = fields.String(metadata={"description": "what flags record as rules_version"})
    settings = fields.Nested(FlagRuleSettings)
    changed_at = fields.AwareDateTime(allow_none=True)
    changed_by_user_id = fields.UUID(allow_none=True)


class FlagRuleVersion(Schema):
    number = fields.Integer()
    settings = fields.Nested(FlagRuleSettings)
    changed_at = fields.AwareDateTime()
    changed_by_user_id = fields.UUID()
