from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView

from api.extensions.smorest import Blueprint, SelectPage, offset_of
from api.flags import configuration, service
from api.flags.schemas import (
    Acknowledge,
    ContactRequested,
    Flag,
    FlagEvent,
    FlagQuery,
    FlagRules,
    FlagRuleSettings,
    FlagRuleVersion,
    Resolve,
)
from api.runtime import runtime

blp = Blueprint("flags", __name__, url_prefix="/api/v1", description="Step-up flags")
CLINICIANS = ("staff", "therapist")
CONTACT_REPLY = (
    "Thank you. We have let your care team know you'd like to talk; they will reach out. "
    "If you need someone right now, call or text 988."
)


@blp.route("/flags")
class Flags(MethodView):
    @blp.requires(*CLINICIANS)
    @blp.arguments(FlagQuery, location="query")
    @blp.response(200, Flag(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters):
        """Flags I may act on, most severe and oldest first (default: open and acknowledged)."""
        rt = runtime()
        flags, pagination_parameters.item_count = service.page_for(
            session=rt.db.session(),
            actor=g.actor,
            status=query.get("status"),
            graduate_id=query.get("graduate_id"),
            offset=offset_of(pagination_parameters),
            limit=pagination_parameters.page_size,
            now=rt.clock.now(),
        )
        return flags


@blp.route("/flags/<uuid:flag_id>")
class FlagEntry(MethodView):
    @blp.requires(*CLINICIANS)
    @blp.response(200, Flag)
    def get(self, flag_id: uuid.UUID):
        """One flag with its rule, numbers and evidence."""
        rt = runtime()
        return service.get(
            session=rt.db.session(), actor=g.actor, flag_id=flag_id, now=rt.clock.now()
        )


@blp.route("/flags/<uuid:flag_id>/events")
class FlagEvents(MethodView):
    @blp.requires(*CLINICIANS)
    @blp.response(200, FlagEvent(many=True))
    def get(self, flag_id: uuid.UUID):
        """Who changed the flag, when and how: the exportable record of the decision."""
        rt = runtime()
        return service.history(
            session=rt.db.session(), actor=g.actor, flag_id=flag_id, now=rt.clock.now()
        )


@blp.route("/flags/<uuid:flag_id>/acknowledge")
class FlagAcknowledge(MethodView):
    @blp.requires(*CLINICIANS)
    @blp.arguments(Acknowledge)
    @blp.response(200, Flag)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict, flag_id: uuid.UUID):
        """I have seen this; acknowledging twice changes nothing."""
        rt = runtime()
        return service.acknowledge(
            session=rt.db.session(),
            actor=g.actor,
            flag_id=flag_id,
            note=body.get("note"),
            now=rt.clock.now(),
        )


@blp.route("/flags/<uuid:flag_id>/resolve")
class FlagResolve(MethodView):
    @blp.requires(*CLINICIANS)
    @blp.arguments(Resolve)
    @blp.response(200, Flag)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict, flag_id: uuid.UUID):
        """Record the decision: stepped up to IOP, more outpatient sessions, medication review,
        monitor, or no action, with a note."""
        rt = runtime()
        return service.resolve(
            session=rt.db.session(), actor=g.actor, flag_id=flag_id, now=rt.clock.now(), **body
        )


@blp.route("/graduates/<uuid:graduate_id>/contact-requests")
class ContactRequests(MethodView):
    @blp.requires("graduate")
    @blp.response(201, ContactRequested)
    def post(self, graduate_id: uuid.UUID):
        """ "I'd like to talk to someone": tells the care team."""
        rt = runtime()
        service.request_contact(
            session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
        )
        return {"message": CONTACT_REPLY}


@blp.route("/programs/<uuid:program_id>/flag-rules")
class ProgramFlagRules(MethodView):
    @blp.requires(*CLINICIANS)
    @blp.response(200, FlagRules)
    def get(self, program_id: uuid.UUID):
        """The step-up rules in force for the program (its staff and therapists)."""
        rt = runtime()
        return configuration.current(session=rt.db.session(), actor=g.actor, program_id=program_id)

    @blp.requires("staff")
    @blp.arguments(FlagRuleSettings)
    @blp.response(200, FlagRules)
    def put(self, body: dict, program_id: uuid.UUID):
        """Replace the rules with a new version (staff); fields left out take the defaults."""
        rt = runtime()
        return configuration.change(
            session=rt.db.session(),
            actor=g.actor,
            program_id=program_id,
            settings=body,
            now=rt.clock.now(),
        )


@blp.route("/programs/<uuid:program_id>/flag-rules/versions")
class ProgramFlagRuleVersions(MethodView):
    @blp.requires(*CLINICIANS)
    @blp.response(200, FlagRuleVersion(many=True))
    @blp.paginate(SelectPage)
    def get(self, program_id: uuid.UUID):
        """Every version of the program's rules, newest first."""
        rt = runtime()
        return configuration.versions(session=rt.db.session(), actor=g.actor, program_id=program_id)
