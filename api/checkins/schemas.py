from __future__ import annotations

from marshmallow import EXCLUDE, fields, validate

from api.checkins.models import IDEMPOTENCY_KEY_LENGTH
from api.checkins.service import TREND_INSTRUMENTS
from api.extensions.smorest import Schema

FORMS = ("phq9", "gad7", "daily", "bam", "who5")


class CheckInDue(Schema):
    questionnaire = fields.String()
    due_date = fields.Date()
    closes_at = fields.AwareDateTime()
    optional = fields.Boolean()
    reason = fields.String(metadata={"description": "scheduled, or screen (PHQ-2/GAD-2 ≥3)"})


class CheckInCreate(Schema):
    questionnaire = fields.String(required=True, validate=validate.OneOf(FORMS))
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 40)),
        values=fields.Raw(),
        required=True,
        metadata={"example": {"phq9-1": 1, "phq9-2": 0}},
    )
    answered_at = fields.AwareDateTime(
        required=True, metadata={"description": "ISO 8601 with offset; up to 7 days back"}
    )


class CheckInHeaders(Schema):
    """A key longer than the stored column could never be kept: refused before anything runs."""

    class Meta:
        unknown = EXCLUDE  # every other header

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Length(max=IDEMPOTENCY_KEY_LENGTH),
        metadata={"description": "Retries with the same key store the check-in once (24 h)."},
    )


class Resource(Schema):
    name = fields.String()
    phone = fields.String()
    text = fields.String(allow_none=True, metadata={"description": "an SMS number, or null"})


class Safety(Schema):
    positive = fields.Boolean()
    message = fields.String(allow_none=True)
    resources = fields.List(fields.Nested(Resource))
    safety_plan = fields.Dict(allow_none=True)


class CheckInResult(Schema):
    id = fields.UUID()
    questionnaire = fields.String()
    form_version = fields.String()
    answered_at = fields.AwareDateTime()
    score = fields.Integer(allow_none=True)
    band = fields.String(allow_none=True)
    subscales = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)
    safety = fields.Nested(Safety)


class CheckIn(Schema):
    id = fields.UUID()
    questionnaire = fields.String()
    form_version = fields.String()
    answered_at = fields.AwareDateTime()
    score = fields.Integer(allow_none=True)
    band = fields.String(allow_none=True)
    subscales = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)
    answers = fields.Dict(keys=fields.String(), values=fields.Integer())
    safety_positive = fields.Boolean()


class CheckInQuery(Schema):
    questionnaire = fields.String(validate=validate.OneOf(FORMS))


class TrendQuery(Schema):
    instrument = fields.String(required=True, validate=validate.OneOf(TREND_INSTRUMENTS))
    start = fields.AwareDateTime(data_key="from")
    end = fields.AwareDateTime(data_key="to")


class BandEdge(Schema):
    band = fields.String()
    min = fields.Integer()
    max = fields.Integer()


class TrendPoint(Schema):
    id = fields.UUID()
    answered_at = fields.AwareDateTime()
    score = fields.Integer(allow_none=True)
    band = fields.String(allow_none=True)
    subscales = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)
    mood = fields.Integer(allow_none=True)


class Trend(Schema):
    instrument = fields.String()
    baseline = fields.Integer(allow_none=True, metadata={"description": "discharge baseline"})
    bands = fields.List(fields.Nested(BandEdge))
    points = fields.List(fields.Nested(TrendPoint))
