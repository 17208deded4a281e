from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView

from api.extensions.smorest import Blueprint
from api.privacy import service
from api.privacy.schemas import Deletion, Export, Retention
from api.runtime import runtime

blp = Blueprint("privacy", __name__, url_prefix="/api/v1", description="The graduate's own data")


@blp.route("/me/export")
class MyExport(MethodView):
    @blp.requires("graduate")
    @blp.response(200, Export)
    def get(self):
        """Everything we hold about me, as JSON, with my check-ins as a FHIR bundle."""
        rt = runtime()
        body = service.export(
            session=rt.db.session(), actor=g.actor, library=rt.content, now=rt.clock.now()
        )
        return body, {"Content-Disposition": 'attachment; filename="my-data.json"'}


@blp.route("/me/deletion")
class MyDeletion(MethodView):
    @blp.requires("graduate")
    @blp.response(200, Deletion)
    def get(self):
        """Whether my account is scheduled for erasure, and when."""
        return service.deletion_status(session=runtime().db.session(), actor=g.actor)

    @blp.requires("graduate")
    @blp.response(202, Deletion)
    def post(self):
        """Erase my account after the program's grace period (30 days unless it says
        otherwise); it keeps working until then and can be cancelled."""
        rt = runtime()
        return service.request_deletion(session=rt.db.session(), actor=g.actor, now=rt.clock.now())

    @blp.requires("graduate")
    @blp.response(204)
    def delete(self):
        """Cancel a scheduled erasure."""
        rt = runtime()
        service.cancel_deletion(session=rt.db.session(), actor=g.actor, now=rt.clock.now())


@blp.route("/programs/<uuid:program_id>/retention")
class ProgramRetention(MethodView):
    @blp.requires("staff")
    @blp.response(200, Retention)
    def get(self, program_id: uuid.UUID):
        """How long the program keeps what (its staff)."""
        return service.retention(
            session=runtime().db.session(), actor=g.actor, program_id=program_id
        )

    @blp.requires("staff")
    @blp.arguments(Retention)
    @blp.response(200, Retention)
    def put(self, body: dict, program_id: uuid.UUID):
        """Change the retention settings (its staff); every field is required."""
        return service.change_retention(
            session=runtime().db.session(), actor=g.actor, program_id=program_id, settings=body
        )
