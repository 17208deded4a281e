from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView

from api.extensions.smorest import Blueprint, SelectPage
from api.programs import service
from api.programs.schemas import Member, MemberCreate, MemberQuery, ProgramOut, ProgramUpdate
from api.runtime import runtime

blp = Blueprint(
    "programs", __name__, url_prefix="/api/v1/programs", description="Programs and their members"
)


@blp.route("/<uuid:program_id>")
class ProgramView(MethodView):
    @blp.requires("staff", "therapist", "coordinator")
    @blp.response(200, ProgramOut)
    def get(self, program_id: uuid.UUID):
        """The program's settings: name, phone, crisis lines, zone, working hours (members)."""
        return service.read(session=runtime().db.session(), actor=g.actor, program_id=program_id)

    @blp.requires("staff")
    @blp.arguments(ProgramUpdate)
    @blp.response(200, ProgramOut)
    def patch(self, body: dict, program_id: uuid.UUID):
        """Change the name, phone, crisis lines, zone or working hours for alerts (staff)."""
        return service.update(
            session=runtime().db.session(), actor=g.actor, program_id=program_id, **body
        )


@blp.route("/<uuid:program_id>/members")
class Members(MethodView):
    @blp.requires("staff")
    @blp.arguments(MemberQuery, location="query")
    @blp.response(200, Member(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict, program_id: uuid.UUID):
        """Members of the program (staff)."""
        rt = runtime()
        return service.members(
            session=rt.db.session(), actor=g.actor, program_id=program_id, role=query.get("role")
        )

    @blp.requires("staff")
    @blp.arguments(MemberCreate)
    @blp.response(201, Member)
    def post(self, body: dict, program_id: uuid.UUID):
        """Give an email a role; the person gets it when they first sign in with that email."""
        rt = runtime()
        return service.add_member(
            session=rt.db.session(),
            actor=g.actor,
            program_id=program_id,
            now=rt.clock.now(),
            **body,
        )
