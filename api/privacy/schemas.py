from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema
from api.privacy.service import CLINICAL_YEARS, GRACE_DAYS, INBOX_DAYS


class NotIncluded(Schema):
    table = fields.String()
    why = fields.String()


class RecordAccess(Schema):
    date = fields.String(metadata={"description": "the day, in the graduate's time zone"})
    who = fields.String(metadata={"description": '"you" or "your care team"'})
    what = fields.String(metadata={"description": 'plain words, most often "viewed your record"'})


class Export(Schema):
    generated_at = fields.AwareDateTime()
    person = fields.Dict(keys=fields.String(), values=fields.String())
    records = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Dict()),
        metadata={"description": "rows by table name, as stored (secrets left out)"},
    )
    record_access = fields.List(
        fields.Nested(RecordAccess),
        metadata={"description": "who used your record and when, newest day first"},
    )
    not_included = fields.List(fields.Nested(NotIncluded))
    fhir = fields.Dict(metadata={"description": "FHIR R4 Bundle of the check-ins"})


class Deletion(Schema):
    status = fields.String(metadata={"description": "none or scheduled"})
    requested_at = fields.AwareDateTime(allow_none=True)
    erase_after = fields.AwareDateTime(
        allow_none=True, metadata={"description": "when the erasure job will run for you"}
    )


def _bounded(low_high: tuple[int, int], description: str) -> fields.Integer:
    low, high = low_high
    return fields.Integer(
        required=True,
        validate=validate.Range(min=low, max=high),
        metadata={"description": f"{description} ({low} to {high})"},
    )


class Retention(Schema):
    deletion_grace_days = _bounded(GRACE_DAYS, "days between a deletion request and erasure")
    inbox_retention_days = _bounded(INBOX_DAYS, "days a delivered notification stays")
    clinical_retention_years = _bounded(
        CLINICAL_YEARS, "years an erased graduate's de-identified clinical record is kept"
    )
