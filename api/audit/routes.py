from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView

from api.audit import reading
from api.audit.schemas import AuditEvent, AuditQuery
from api.extensions.smorest import Blueprint, SelectPage
from api.runtime import runtime

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="The audit trail (staff)")


@blp.route("/programs/<uuid:program_id>/audit-events")
class AuditEvents(MethodView):
    @blp.requires("staff")
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditEvent(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict, program_id: uuid.UUID):
        """Who read or changed which graduate's record, newest first."""
        return reading.events_for_program(
            session=runtime().db.session(), actor=g.actor, program_id=program_id, **query
        )
