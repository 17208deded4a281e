from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema, StrictBoolean
from api.reminders.models import KIND_GROUPS, MAX_DAILY_CAP

HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="a local time as HH:MM, e.g. 09:00")
MAX_LEAD_MINUTES = 7 * 24 * 60


def _time(*, required: bool = False, description: str | None = None) -> fields.String:
    metadata = {"example": "09:00", **({"description": description} if description else {})}
    return fields.String(validate=HHMM, required=required, metadata=metadata)


class QuietHours(Schema):
    start = _time(required=True)
    end = _time(required=True, description="may be earlier than start (wraps midnight)")


class Kinds(Schema):
    skill_practice = StrictBoolean(required=True)
    check_in = StrictBoolean(required=True)
    appointment = StrictBoolean(required=True)
    group = StrictBoolean(required=True)


class PreferencesIn(Schema):
    skill_times = fields.List(
        _time(),
        required=True,
        validate=validate.Length(1, 4),
        metadata={"description": "local times for skill-practice reminders, outside quiet hours"},
    )
    quiet_hours = fields.Nested(
        QuietHours,
        required=True,
        metadata={"description": "no push in [start, end); start == end: none"},
    )
    daily_cap = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, MAX_DAILY_CAP),
        metadata={"description": "reminders per local day at most; 0 turns reminders off"},
    )
    kinds = fields.Nested(Kinds, required=True)
    maintenance_weekly = StrictBoolean(
        required=True, metadata={"description": "after month 6, a weekly skill reminder"}
    )
    appointment_lead_minutes = fields.List(
        fields.Integer(strict=True, validate=validate.Range(15, MAX_LEAD_MINUTES)),
        required=True,
        validate=validate.Length(0, 3),
        metadata={
            "description": "reminders this long before an appointment",
            "example": [1440, 120],
        },
    )


class Snoozed(Schema):
    kind = fields.String(metadata={"description": "all, or one of the kinds"})
    until = fields.AwareDateTime()


class PreferencesOut(PreferencesIn):
    timezone = fields.String(metadata={"description": "the graduate's zone; times are in it"})
    paused_until = fields.AwareDateTime(allow_none=True)
    snoozes = fields.List(fields.Nested(Snoozed))


class SnoozeIn(Schema):
    duration = fields.String(required=True, validate=validate.OneOf(("1h", "tonight", "tomorrow")))
    kind = fields.String(
        validate=validate.OneOf(tuple(KIND_GROUPS)),
        metadata={"description": "one kind; all reminders if absent"},
    )


class PauseIn(Schema):
    days = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, 90),
        metadata={"description": "pause every reminder this many days; 0 resumes now"},
    )
