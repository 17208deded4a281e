"""Liveness and readiness probes; no sign-in, no personal data."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import DomainError
from api.extensions.smorest import Blueprint, Schema
from api.runtime import runtime

blp = Blueprint("health", __name__, description="Probes for load balancers and orchestrators")


class Unavailable(DomainError):
    status = 503


class Health(Schema):
    status = fields.String()


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.public
    @blp.response(200, Health)
    def get(self):
        """The process is up."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.public
    @blp.response(200, Health)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """The database answers."""
        try:
            with runtime().db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            raise Unavailable("The database is not reachable.") from None
        return {"status": "ok"}
