from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView

from api.extensions.smorest import Blueprint, SelectPage
from api.graduates import consents, enrollment, service
from api.graduates.schemas import (
    CareTeamAdd,
    CareTeamMember,
    Consent,
    ConsentSet,
    EnrollmentCode,
    EnrollmentRedeem,
    Graduate,
    GraduateCreate,
    GraduateCreated,
    GraduateSummary,
)
from api.runtime import runtime

blp = Blueprint(
    "graduates", __name__, url_prefix="/api/v1", description="Graduates, care teams and consent"
)


@blp.route("/programs/<uuid:program_id>/graduates")
class ProgramGraduates(MethodView):
    @blp.requires("staff", "therapist")
    @blp.response(200, GraduateSummary(many=True))
    @blp.paginate(SelectPage)
    def get(self, program_id: uuid.UUID):
        """The program's graduates (staff), or the therapist's own caseload."""
        return service.for_program(
            session=runtime().db.session(), actor=g.actor, program_id=program_id
        )

    @blp.requires("staff")
    @blp.arguments(GraduateCreate)
    @blp.response(201, GraduateCreated)
    def post(self, body: dict, program_id: uuid.UUID):
        """Register a graduate and get their single-use enrollment code."""
        rt = runtime()
        return service.register(
            session=rt.db.session(),
            actor=g.actor,
            program_id=program_id,
            now=rt.clock.now(),
            **body,
        )


@blp.route("/graduates/<uuid:graduate_id>")
class GraduateRecord(MethodView):
    @blp.requires("graduate", "staff", "therapist")
    @blp.response(200, Graduate)
    def get(self, graduate_id: uuid.UUID):
        """The graduate's record; baseline and substance-use fields need consent."""
        rt = runtime()
        return service.read(
            session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
        )


@blp.route("/graduates/<uuid:graduate_id>/enrollment-code")
class GraduateEnrollmentCode(MethodView):
    @blp.requires("staff")
    @blp.response(201, EnrollmentCode)
    def post(self, graduate_id: uuid.UUID):
        """Issue a new enrollment code; any unused earlier code stops working."""
        rt = runtime()
        code = enrollment.reissue(
            session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
        )
        return {"enrollment_code": code}


@blp.route("/graduates/<uuid:graduate_id>/care-team")
class CareTeam(MethodView):
    @blp.requires("graduate", "staff")
    @blp.response(200, CareTeamMember(many=True))
    @blp.paginate(SelectPage)
    def get(self, graduate_id: uuid.UUID):
        """Who is on the graduate's care team."""
        rt = runtime()
        return service.care_team(
            session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
        )

    @blp.requires("staff")
    @blp.arguments(CareTeamAdd)
    @blp.response(201, CareTeamMember)
    def post(self, body: dict, graduate_id: uuid.UUID):
        """Add a therapist by email; invites them to the program if needed."""
        rt = runtime()
        return service.add_to_care_team(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            now=rt.clock.now(),
            **body,
        )


@blp.route("/graduates/<uuid:graduate_id>/care-team/<uuid:member_id>")
class CareTeamEntry(MethodView):
    @blp.requires("staff")
    @blp.response(204)
    def delete(self, graduate_id: uuid.UUID, member_id: uuid.UUID):
        """Take someone off the care team; their consent ends with it."""
        rt = runtime()
        service.remove_from_care_team(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            member_id=member_id,
            now=rt.clock.now(),
        )


@blp.route("/enrollments")
class Enrollments(MethodView):
    @blp.requires()
    @blp.arguments(EnrollmentRedeem)
    @blp.response(200, Graduate)
    def post(self, body: dict):
        """Redeem an enrollment code: links the signed-in person to their graduate record."""
        rt = runtime()
        session, now = rt.db.session(), rt.clock.now()
        graduate = enrollment.redeem(session=session, actor=g.actor, code=body["code"], now=now)
        g.actor = g.actor.enrolled_as(graduate.id)
        return service.read(session=session, actor=g.actor, graduate_id=graduate.id, now=now)


@blp.route("/graduates/<uuid:graduate_id>/consents")
class Consents(MethodView):
    @blp.requires("graduate", "staff")
    @blp.response(200, Consent(many=True))
    @blp.paginate(SelectPage)
    def get(self, graduate_id: uuid.UUID):
        """What the graduate shares, with whom."""
        rt = runtime()
        return consents.for_graduate(
            session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
        )


@blp.route("/graduates/<uuid:graduate_id>/consents/<uuid:therapist_user_id>")
class ConsentEntry(MethodView):
    @blp.requires("graduate")
    @blp.arguments(ConsentSet)
    @blp.response(200, Consent)
    def put(self, body: dict, graduate_id: uuid.UUID, therapist_user_id: uuid.UUID):
        """Share check-ins (and, separately, substance-use records) with a care-team therapist."""
        rt = runtime()
        return consents.grant(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            therapist_user_id=therapist_user_id,
            now=rt.clock.now(),
            **body,
        )

    @blp.requires("graduate")
    @blp.response(204)
    def delete(self, graduate_id: uuid.UUID, therapist_user_id: uuid.UUID):
        """Withdraw consent; it takes effect at once."""
        rt = runtime()
        consents.withdraw(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            therapist_user_id=therapist_user_id,
            now=rt.clock.now(),
        )
