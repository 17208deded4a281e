from __future__ import annotations

import json
import uuid

from flask import Response, g, request
from flask.views import MethodView

from api.extensions.smorest import Blueprint, ListPage
from api.runtime import runtime
from api.summaries import fhir, html, service
from api.summaries.schemas import (
    CaseloadEntry,
    Preferences,
    SummaryFull,
    SummaryItem,
    SummaryQuery,
)

blp = Blueprint(
    "summaries", __name__, url_prefix="/api/v1", description="Weekly summaries and FHIR export"
)


@blp.route("/summaries/preferences")
class SummaryPreferences(MethodView):
    @blp.requires("therapist")
    @blp.response(200, Preferences)
    def get(self):
        """When my weekly summaries are built (defaults until I choose)."""
        return service.preferences(session=runtime().db.session(), actor=g.actor)

    @blp.requires("therapist")
    @blp.arguments(Preferences)
    @blp.response(200, Preferences)
    def put(self, body: dict):
        """Choose the weekday, local time and IANA zone of my weekly summaries."""
        rt = runtime()
        return service.set_preferences(
            session=rt.db.session(), actor=g.actor, now=rt.clock.now(), **body
        )


@blp.route("/summaries")
class Summaries(MethodView):
    @blp.requires("therapist")
    @blp.arguments(SummaryQuery, location="query")
    @blp.response(200, SummaryItem(many=True))
    @blp.paginate()
    def get(self, query: dict, pagination_parameters):
        """My inbox: unread first, then newest; only graduates who still share with me."""
        rt = runtime()
        items, pagination_parameters.item_count = service.page_for(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=query.get("graduate_id"),
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
            now=rt.clock.now(),
        )
        return items


@blp.route("/summaries/caseload")
class Caseload(MethodView):
    @blp.requires("therapist")
    @blp.response(200, CaseloadEntry(many=True))
    @blp.paginate(ListPage)
    def get(self):
        """My consenting graduates, most in need first (open flag, then latest band)."""
        rt = runtime()
        return service.caseload(session=rt.db.session(), actor=g.actor, now=rt.clock.now())


@blp.route("/summaries/<uuid:summary_id>")
class SummaryEntry(MethodView):
    @blp.requires("therapist")
    @blp.response(200, SummaryFull)
    def get(self, summary_id: uuid.UUID):
        """One summary as JSON, or with `Accept: text/html` a printable page with a chart."""
        rt = runtime()
        found = service.get(
            session=rt.db.session(), actor=g.actor, summary_id=summary_id, now=rt.clock.now()
        )
        if _wants_html():
            return Response(html.render(found, rt.content), mimetype="text/html")
        return found


@blp.route("/summaries/<uuid:summary_id>/read")
class SummaryRead(MethodView):
    @blp.requires("therapist")
    @blp.response(200, SummaryItem)
    def post(self, summary_id: uuid.UUID):
        """Mark read; marking twice keeps the first time."""
        rt = runtime()
        return service.mark_read(
            session=rt.db.session(), actor=g.actor, summary_id=summary_id, now=rt.clock.now()
        )


@blp.route("/graduates/<uuid:graduate_id>/fhir")
class FhirExport(MethodView):
    @blp.requires("graduate", "staff", "therapist")
    @blp.response(200, content_type="application/fhir+json")
    def get(self, graduate_id: uuid.UUID):
        """FHIR R4 Bundle (collection) of the check-ins, scores and open flags."""
        rt = runtime()
        bundle = fhir.export(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            library=rt.content,
            now=rt.clock.now(),
        )
        return Response(json.dumps(bundle), mimetype="application/fhir+json")


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "text/html"
        and request.accept_mimetypes[best] > request.accept_mimetypes["application/json"]
    )
