from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema
from api.summaries.service import WEEKDAYS


class Preferences(Schema):
    weekday = fields.String(required=True, validate=validate.OneOf(WEEKDAYS))
    local_time = fields.Time(
        required=True, format="%H:%M", metadata={"description": "HH:MM in `timezone`"}
    )
    timezone = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"description": "IANA name"}
    )
    default = fields.Boolean(
        dump_only=True, metadata={"description": "true: nothing saved, these are the defaults"}
    )


class SummaryQuery(Schema):
    graduate_id = fields.UUID()


class SummaryItem(Schema):
    id = fields.UUID()
    graduate_id = fields.UUID()
    display_name = fields.String()
    week_of = fields.Date(metadata={"description": "local date of the therapist's slot"})
    period_start = fields.AwareDateTime()
    period_end = fields.AwareDateTime()
    headline = fields.String()
    headline_rule = fields.String(
        metadata={
            "enum": [
                "safety",
                "stopped_checking_in",
                "worsening",
                "missed_appointments",
                "improving",
                "no_scores_yet",
                "stable",
            ]
        }
    )
    built_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)


class SummaryFull(SummaryItem):
    content = fields.Dict(
        metadata={
            "description": "graduate, period, headline, check_ins, scores, safety, skills, "
            "appointments, group_attendance (meetings present / absent / excused), flags "
            "(open at the week's end, with their status then), flags_since_week_ended (raised "
            "after it, as they stand at build time, with their evidence), and substance_use "
            "(only under the Part 2 consent, with its redisclosure notice)"
        }
    )


class LatestScore(Schema):
    score = fields.Integer()
    band = fields.String(allow_none=True)


class CaseloadEntry(Schema):
    graduate_id = fields.UUID()
    display_name = fields.String()
    open_flag = fields.String(allow_none=True, metadata={"description": "most severe open kind"})
    open_flags = fields.Integer()
    phq9 = fields.Nested(LatestScore, allow_none=True)
    gad7 = fields.Nested(LatestScore, allow_none=True)
    latest_summary_id = fields.UUID(allow_none=True)
    headline = fields.String(allow_none=True)
