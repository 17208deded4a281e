from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, request
from flask.views import MethodView

from api.content.service import ProgramCatalogue
from api.extensions.smorest import Blueprint, Schema, SelectPage
from api.plans import appointments, calendar, service, skills, today
from api.plans import schemas as s
from api.plans.versioning import etag, parse_if_match
from api.runtime import runtime

blp = Blueprint(
    "plans", __name__, url_prefix="/api/v1", description="The continuing-care plan and today"
)
GRADUATE = "/graduates/<uuid:graduate_id>"
CLINICAL_EDITORS = ("graduate", "staff", "therapist")


def _content() -> ProgramCatalogue:
    return ProgramCatalogue(runtime().content)


def _context() -> dict[str, Any]:
    rt = runtime()
    return {"session": rt.db.session(), "actor": g.actor, "now": rt.clock.now()}


def _write_context() -> dict[str, Any]:
    return {**_context(), "expected_version": parse_if_match(request.headers.get("If-Match"))}


def _with_etag(plan: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    return plan, {"ETag": etag(plan["version"])}


def _not_modified(tag: str) -> Response | None:
    if tag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers={"ETag": tag})
    return None


@blp.route(f"{GRADUATE}/plan")
class PlanView(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.response(200, s.PlanOut)
    @blp.alt_response(304, description="Not modified")
    def get(self, graduate_id: uuid.UUID):
        """The whole plan; its ETag is the version to send back in If-Match when editing."""
        plan = service.read(graduate_id=graduate_id, catalogue=_content(), **_context())
        return _not_modified(etag(plan["version"])) or _with_etag(plan)


def _section_view(slug: str, section: str, body_schema: type[Schema], doc: str) -> None:
    class SectionView(MethodView):
        @blp.requires(*CLINICAL_EDITORS)
        @blp.arguments(body_schema)
        @blp.response(200, s.PlanOut)
        @blp.alt_response(412, response="PRECONDITION_FAILED")
        def put(self, body: dict, graduate_id: uuid.UUID):
            plan = service.replace_section(
                graduate_id=graduate_id,
                section=section,
                value=body[section],
                catalogue=_content(),
                **_write_context(),
            )
            return _with_etag(plan)

    SectionView.put.__doc__ = doc
    SectionView.__name__ = f"Plan{section.title().replace('_', '')}"
    blp.route(f"{GRADUATE}/plan/{slug}")(SectionView)


_section_view(
    "warning-signs",
    "warning_signs",
    s.WarningSigns,
    "Replace the graduate's own warning signs (the graduate or the care team).",
)
_section_view(
    "triggers",
    "triggers",
    s.Triggers,
    "Replace the graduate's triggers (the graduate or the care team).",
)
_section_view(
    "safety-plan",
    "safety_plan",
    s.SafetyPlanBody,
    "Replace the safety plan, Stanley-Brown's six parts (the graduate or the care team).",
)
_section_view(
    "contacts",
    "contacts",
    s.ContactsBody,
    "Replace who to call for what (the graduate or the care team).",
)
_section_view(
    "step-down",
    "step_down",
    s.StepDownBody,
    "Replace step-down groups and meetings (the care team).",
)


@blp.route(f"{GRADUATE}/plan/changes")
class PlanChanges(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.ChangeQuery, location="query")
    @blp.response(200, s.PlanChange(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict, graduate_id: uuid.UUID):
        """What changed in the plan, who changed it and when, newest first (?since=)."""
        return service.changes(graduate_id=graduate_id, since=query.get("since"), **_context())


@blp.route(f"{GRADUATE}/plan/appointments")
class PlanAppointments(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.AppointmentIn)
    @blp.response(201, s.Appointment)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def post(self, body: dict, graduate_id: uuid.UUID):
        """Book an appointment, optionally recurring (the care team)."""
        item = appointments.add(graduate_id=graduate_id, **_write_context(), **body)
        return service.appointment_view(item)


@blp.route(f"{GRADUATE}/plan/appointments/<uuid:appointment_id>")
class PlanAppointment(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.AppointmentIn)
    @blp.response(200, s.Appointment)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def put(self, body: dict, graduate_id: uuid.UUID, appointment_id: uuid.UUID):
        """Change an appointment (the care team)."""
        item = appointments.replace(
            graduate_id=graduate_id, appointment_id=appointment_id, **_write_context(), **body
        )
        return service.appointment_view(item)

    @blp.requires(*CLINICAL_EDITORS)
    @blp.response(204)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def delete(self, graduate_id: uuid.UUID, appointment_id: uuid.UUID):
        """Remove an appointment and its reports (the care team)."""
        appointments.remove(
            graduate_id=graduate_id, appointment_id=appointment_id, **_write_context()
        )


@blp.route(f"{GRADUATE}/appointments/occurrences")
class Occurrences(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.OccurrenceQuery, location="query")
    @blp.response(200, s.Occurrence(many=True))
    def get(self, query: dict, graduate_id: uuid.UUID):
        """Every occurrence between ?from= and ?to= (at most 400 days), with reports."""
        return appointments.occurrences(graduate_id=graduate_id, **query, **_context())


@blp.route(f"{GRADUATE}/appointments/<uuid:appointment_id>/reports")
class Reports(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.ReportIn)
    @blp.response(200, s.Report)
    def post(self, body: dict, graduate_id: uuid.UUID, appointment_id: uuid.UUID):
        """Did you go? Report one occurrence as attended, missed or rescheduled."""
        return appointments.report(
            graduate_id=graduate_id, appointment_id=appointment_id, **body, **_context()
        )


@blp.route(f"{GRADUATE}/plan/medications")
class PlanMedications(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.MedicationIn)
    @blp.response(201, s.Medication)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def post(self, body: dict, graduate_id: uuid.UUID):
        """Add a medication: who manages it and when it is next reviewed (the care team)."""
        return service.add_medication(graduate_id=graduate_id, **_write_context(), **body)


@blp.route(f"{GRADUATE}/plan/medications/<uuid:medication_id>")
class PlanMedication(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.MedicationIn)
    @blp.response(200, s.Medication)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def put(self, body: dict, graduate_id: uuid.UUID, medication_id: uuid.UUID):
        """Change a medication entry (the care team)."""
        return service.replace_medication(
            graduate_id=graduate_id, medication_id=medication_id, **_write_context(), **body
        )

    @blp.requires(*CLINICAL_EDITORS)
    @blp.response(204)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def delete(self, graduate_id: uuid.UUID, medication_id: uuid.UUID):
        """Remove a medication entry (the care team)."""
        service.remove_medication(
            graduate_id=graduate_id, medication_id=medication_id, **_write_context()
        )


@blp.route(f"{GRADUATE}/plan/skills")
class PlanSkills(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.PlanSkillIn)
    @blp.response(201, s.PlanSkill)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def post(self, body: dict, graduate_id: uuid.UUID):
        """Add a skill from the library with a target per week (the care team)."""
        return skills.add(graduate_id=graduate_id, catalogue=_content(), **_write_context(), **body)


@blp.route(f"{GRADUATE}/plan/skills/<string:skill_id>")
class PlanSkill(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.arguments(s.PlanSkillTarget)
    @blp.response(200, s.PlanSkill)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def put(self, body: dict, graduate_id: uuid.UUID, skill_id: str):
        """Change a skill's target per week (the care team)."""
        return skills.set_target(
            graduate_id=graduate_id,
            skill_id=skill_id,
            catalogue=_content(),
            **_write_context(),
            **body,
        )

    @blp.requires(*CLINICAL_EDITORS)
    @blp.response(204)
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def delete(self, graduate_id: uuid.UUID, skill_id: str):
        """Take a skill out of the plan (the care team)."""
        skills.remove(graduate_id=graduate_id, skill_id=skill_id, **_write_context())


@blp.route(f"{GRADUATE}/skills/<string:skill_id>/practice")
class Practice(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.PracticeIn)
    @blp.response(201, s.Practice)
    def post(self, body: dict, graduate_id: uuid.UUID, skill_id: str):
        """Log practice of a skill in the plan: done, and how helpful (0-10)."""
        return skills.log_practice(graduate_id=graduate_id, skill_id=skill_id, **body, **_context())


@blp.route(f"{GRADUATE}/today")
class Today(MethodView):
    @blp.requires(*CLINICAL_EDITORS)
    @blp.response(200, s.Today)
    @blp.alt_response(304, description="Not modified")
    def get(self, graduate_id: uuid.UUID):
        """Today in the graduate's zone: appointments, skills and check-ins due, the phase."""
        body = today.today(graduate_id=graduate_id, content=_content(), **_context())
        tag = today.etag_of(body)
        return _not_modified(tag) or (body, {"ETag": tag})


@blp.route(f"{GRADUATE}/calendar-feed")
class CalendarFeedView(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.FeedIn)
    @blp.response(201, s.Feed)
    def post(self, body: dict, graduate_id: uuid.UUID):
        """A new secret calendar address for my appointments; the old one stops working."""
        token, feed = calendar.create(graduate_id=graduate_id, **body, **_context())
        return {
            "url": f"{request.host_url.rstrip('/')}/api/v1/calendar/{token}.ics",
            "show_place": feed.show_place,
        }

    @blp.requires("graduate")
    @blp.response(204)
    def delete(self, graduate_id: uuid.UUID):
        """Turn the calendar address off."""
        calendar.revoke(graduate_id=graduate_id, **_context())


@blp.route("/calendar/<string:token>.ics")
class CalendarFile(MethodView):
    @blp.public
    @blp.response(200, content_type="text/calendar")
    def get(self, token: str):
        """The iCalendar file behind a secret feed address (no sign-in: the address is the key)."""
        body = calendar.render(session=runtime().db.session(), token=token)
        return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-store"})
