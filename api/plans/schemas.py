from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from api.checkins.schemas import CheckInDue
from api.extensions.smorest import Schema, StrictBoolean
from api.programs.schemas import PHONE, CrisisLine

APPOINTMENT_KINDS = ("therapy", "psychiatry", "medication_management", "group", "other")
STEP_DOWN_KINDS = ("aftercare_group", "alumni_meeting", "other")
REPORT_STATUSES = ("attended", "missed", "rescheduled")


def text(max_length: int = 200, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(1, max_length), **kwargs)


def text_list(max_items: int = 30) -> fields.List:
    return fields.List(text(), required=True, validate=validate.Length(max=max_items))


class Contact(Schema):
    """Someone the graduate can call from the app: a way to reach them is required."""

    name = text(100, required=True)
    phone = fields.String(required=True, validate=PHONE)
    relationship = text(100, load_default=None, allow_none=True)


class CareContact(Schema):
    name = text(100, required=True)
    for_what = text(200, required=True, metadata={"example": "medication questions"})
    phone = fields.String(required=True, validate=PHONE)


class SafetyPlan(Schema):
    """Stanley & Brown's six parts."""

    warning_signs = text_list()
    internal_coping = text_list()
    distractions = fields.List(
        fields.Nested(Contact),
        required=True,
        validate=validate.Length(max=20),
        metadata={"description": "people and social settings that take my mind off things"},
    )
    distraction_places = text_list(20)
    people_to_ask = fields.List(
        fields.Nested(Contact), required=True, validate=validate.Length(max=20)
    )
    professionals = fields.List(
        fields.Nested(Contact), required=True, validate=validate.Length(max=20)
    )
    environment_safety = text_list()


class StepDown(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(STEP_DOWN_KINDS))
    name = text(120, required=True)
    schedule = text(200, load_default=None, allow_none=True, metadata={"example": "Tuesdays 6pm"})
    location = text(300, load_default=None, allow_none=True)


class WarningSigns(Schema):
    warning_signs = text_list()


class Triggers(Schema):
    triggers = text_list()


class SafetyPlanBody(Schema):
    safety_plan = fields.Nested(SafetyPlan, required=True)


class ContactsBody(Schema):
    contacts = fields.List(
        fields.Nested(CareContact), required=True, validate=validate.Length(max=30)
    )


class StepDownBody(Schema):
    step_down = fields.List(
        fields.Nested(StepDown), required=True, validate=validate.Length(max=20)
    )


class AppointmentIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_KINDS))
    clinician_name = text(120, required=True)
    location = text(300, load_default=None, allow_none=True)
    video_url = fields.URL(load_default=None, allow_none=True, schemes={"https"})
    starts_at_local = fields.NaiveDateTime(
        required=True,
        metadata={
            "description": "wall-clock time in the graduate's zone, no offset",
            "example": "2026-12-01T17:00:00",
        },
    )
    duration_minutes = fields.Integer(load_default=50, validate=validate.Range(5, 480))
    rrule = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 300),
        metadata={"example": "FREQ=WEEKLY;COUNT=12"},
    )

    @validates_schema
    def _one_place(self, data: dict, **_kwargs) -> None:
        if not data.get("location") and not data.get("video_url"):
            raise ValidationError("give a location or a video link", "location")


class Appointment(Schema):
    id = fields.UUID()
    kind = fields.String()
    clinician_name = fields.String()
    location = fields.String(allow_none=True)
    video_url = fields.String(allow_none=True)
    starts_at = fields.AwareDateTime()
    starts_at_local = fields.String()
    timezone = fields.String()
    duration_minutes = fields.Integer()
    rrule = fields.String(allow_none=True)


class Occurrence(Schema):
    appointment_id = fields.UUID()
    kind = fields.String()
    clinician_name = fields.String()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    report = fields.String(allow_none=True)


class OccurrenceQuery(Schema):
    start = fields.AwareDateTime(data_key="from", required=True)
    end = fields.AwareDateTime(data_key="to", required=True)


class ReportIn(Schema):
    occurrence_start = fields.AwareDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REPORT_STATUSES))


class Report(Schema):
    appointment_id = fields.UUID()
    occurrence_start = fields.AwareDateTime()
    status = fields.String()
    reported_at = fields.AwareDateTime()


class MedicationIn(Schema):
    name = text(120, required=True)
    dose = text(120, load_default=None, allow_none=True)
    managed_by = text(120, required=True, metadata={"example": "Dr. Rivera (psychiatry)"})
    next_review_date = fields.Date(load_default=None, allow_none=True)


class Medication(MedicationIn):
    id = fields.UUID()


class PlanSkillIn(Schema):
    skill_id = fields.String(required=True, validate=validate.Length(1, 80))
    target_per_week = fields.Integer(required=True, validate=validate.Range(1, 14))


class PlanSkillTarget(Schema):
    target_per_week = fields.Integer(required=True, validate=validate.Range(1, 14))


class PlanSkill(Schema):
    skill_id = fields.String()
    title = fields.String()
    target_per_week = fields.Integer()


class PracticeIn(Schema):
    done = StrictBoolean(required=True)
    helpfulness = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 10))
    practiced_at = fields.AwareDateTime(load_default=None)


class Practice(Schema):
    id = fields.UUID()
    skill_id = fields.String()
    practiced_at = fields.AwareDateTime()
    done = fields.Boolean()
    helpfulness = fields.Integer(allow_none=True)


class PlanOut(Schema):
    graduate_id = fields.UUID()
    version = fields.Integer()
    updated_at = fields.AwareDateTime(allow_none=True)
    appointments = fields.List(fields.Nested(Appointment))
    medications = fields.List(fields.Nested(Medication))
    skills = fields.List(fields.Nested(PlanSkill))
    step_down = fields.List(fields.Nested(StepDown))
    warning_signs = fields.List(fields.String())
    triggers = fields.List(fields.String())
    safety_plan = fields.Nested(SafetyPlan)
    contacts = fields.List(fields.Nested(CareContact))
    crisis_lines = fields.List(fields.Nested(CrisisLine))
    program_phone = fields.String(allow_none=True)


class ChangeQuery(Schema):
    since = fields.AwareDateTime()


class PlanChange(Schema):
    version = fields.Integer()
    section = fields.String()
    action = fields.String()
    item_id = fields.UUID(allow_none=True)
    actor_user_id = fields.UUID()
    actor_role = fields.String()
    changed_at = fields.AwareDateTime()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class FeedIn(Schema):
    show_place = StrictBoolean(load_default=False)


class Feed(Schema):
    url = fields.String()
    show_place = fields.Boolean()


class PhaseCard(Schema):
    id = fields.String()
    title = fields.String()
    summary = fields.String()
    body = fields.String()


class SkillDue(PlanSkill):
    done_this_week = fields.Integer()


class Today(Schema):
    date = fields.Date()
    timezone = fields.String()
    days_since_graduation = fields.Integer()
    phase = fields.String(metadata={"description": "month1 | months2_3 | months4_6 | maintenance"})
    phase_card = fields.Nested(PhaseCard, allow_none=True)
    appointments = fields.List(fields.Nested(Occurrence))
    skills_due = fields.List(fields.Nested(SkillDue))
    check_ins_due = fields.List(
        fields.Nested(CheckInDue),
        allow_none=True,
        metadata={
            "description": "What is due now, as GET …/check-ins/due lists it. Null for a "
            "therapist the graduate has not shared check-ins with; without the consent that "
            "names substance-use records, the list leaves out the BAM and what substance-use "
            "flags changed."
        },
    )
    safety_plan_url = fields.String()
