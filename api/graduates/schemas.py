from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema, StrictBoolean
from api.programs.models import Role


class Baseline(Schema):
    phq9 = fields.Integer(required=True, strict=True, validate=validate.Range(0, 27))
    gad7 = fields.Integer(required=True, strict=True, validate=validate.Range(0, 21))


class GraduateCreate(Schema):
    display_name = fields.String(required=True, validate=validate.Length(1, 100))
    graduation_date = fields.Date(required=True, metadata={"example": "2026-11-01"})
    timezone = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"example": "America/Chicago"}
    )
    substance_use = StrictBoolean(required=True)
    baseline = fields.Nested(Baseline, required=True)
    therapist_email = fields.Email(load_default=None, allow_none=True)


class GraduateCreated(Schema):
    id = fields.UUID()
    enrollment_code = fields.String(
        metadata={"description": "Single use, valid 14 days; shown once, stored hashed"}
    )


class Graduate(Schema):
    """A graduate's record; clinical fields are null for a caller who may not see them."""

    id = fields.UUID()
    program_id = fields.UUID()
    display_name = fields.String()
    graduation_date = fields.Date()
    timezone = fields.String()
    enrolled = fields.Boolean(metadata={"description": "whether a phone has redeemed the code"})
    substance_use = fields.Boolean(allow_none=True)
    baseline = fields.Nested(Baseline, allow_none=True)


class GraduateSummary(Schema):
    id = fields.UUID()
    display_name = fields.String()
    graduation_date = fields.Date()
    timezone = fields.String()


class EnrollmentCode(Schema):
    enrollment_code = fields.String()


class EnrollmentRedeem(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 64))


class CareTeamAdd(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))


class CareTeamMember(Schema):
    id = fields.UUID()
    user_id = fields.UUID(
        allow_none=True,
        attribute="membership.user_id",
        metadata={"description": "null until they sign in"},
    )
    email = fields.String(attribute="membership.email")
    role = fields.Enum(Role, by_value=True, attribute="membership.role")


class ConsentSet(Schema):
    share_check_ins = StrictBoolean(required=True)
    share_substance_use = StrictBoolean(
        required=True,
        metadata={"description": "42 CFR Part 2 consent naming substance-use records"},
    )


class Consent(Schema):
    graduate_id = fields.UUID()
    therapist_user_id = fields.UUID()
    share_check_ins = fields.Boolean()
    share_substance_use = fields.Boolean()
    granted_at = fields.DateTime()
    updated_at = fields.DateTime()
