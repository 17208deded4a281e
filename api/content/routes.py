from __future__ import annotations

import uuid

from flask import Response, g, request
from flask.views import MethodView

from api.content import service
from api.content.schemas import (
    Card,
    CardQuery,
    CardSummary,
    ContentOverride,
    ContentVisibility,
    Questionnaire,
    Skill,
    SkillCreate,
    SkillQuery,
    SkillSummary,
)
from api.extensions.smorest import Blueprint, ListPage, SelectPage
from api.runtime import runtime

blp = Blueprint(
    "content",
    __name__,
    url_prefix="/api/v1",
    description="Skills, psychoeducation and questionnaires, as the caller's program shows them",
)


@blp.after_request
def _revalidate(response: Response) -> Response:
    """Content reads carry an ETag: let the phone keep them and ask with If-None-Match."""
    if request.method == "GET" and response.status_code in (200, 304):
        response.headers["Cache-Control"] = "private, no-cache"
    return response


@blp.route("/content/skills")
class Skills(MethodView):
    @blp.requires()
    @blp.etag
    @blp.arguments(SkillQuery, location="query")
    @blp.response(200, SkillSummary(many=True))
    @blp.paginate(ListPage)
    def get(self, query: dict):
        """Skills the caller's program shows, by id; filter by category and phase."""
        rt = runtime()
        return service.skills(session=rt.db.session(), library=rt.content, actor=g.actor, **query)


@blp.route("/content/skills/<string:skill_id>")
class SkillEntry(MethodView):
    @blp.requires()
    @blp.etag
    @blp.response(200, Skill)
    def get(self, skill_id: str):
        """One skill with its markdown body."""
        rt = runtime()
        return service.skill(
            session=rt.db.session(), library=rt.content, actor=g.actor, skill_id=skill_id
        )


@blp.route("/content/psychoeducation")
class Cards(MethodView):
    @blp.requires()
    @blp.etag
    @blp.arguments(CardQuery, location="query")
    @blp.response(200, CardSummary(many=True))
    @blp.paginate(ListPage)
    def get(self, query: dict):
        """Psychoeducation cards the caller's program shows; filter by phase."""
        rt = runtime()
        return service.cards(session=rt.db.session(), library=rt.content, actor=g.actor, **query)


@blp.route("/content/psychoeducation/<string:card_id>")
class CardEntry(MethodView):
    @blp.requires()
    @blp.etag
    @blp.response(200, Card)
    def get(self, card_id: str):
        """One psychoeducation card with its markdown body."""
        rt = runtime()
        return service.card(
            session=rt.db.session(), library=rt.content, actor=g.actor, card_id=card_id
        )


@blp.route("/content/questionnaires/<string:questionnaire_id>")
class QuestionnaireEntry(MethodView):
    @blp.requires()
    @blp.etag
    @blp.response(200, Questionnaire)
    def get(self, questionnaire_id: str):
        """A form's items and answer options (ranges listed value by value) with LOINC codes."""
        return service.questionnaire(library=runtime().content, questionnaire_id=questionnaire_id)


@blp.route("/programs/<uuid:program_id>/content")
class ProgramOverrides(MethodView):
    @blp.requires("staff")
    @blp.response(200, ContentOverride(many=True))
    @blp.paginate(SelectPage)
    def get(self, program_id: uuid.UUID):
        """What the program changed: hidden library items and its own skills."""
        return service.overrides(
            session=runtime().db.session(), actor=g.actor, program_id=program_id
        )


@blp.route("/programs/<uuid:program_id>/content/skills")
class ProgramSkills(MethodView):
    @blp.requires("staff")
    @blp.arguments(SkillCreate)
    @blp.response(201, Skill)
    def post(self, body: dict, program_id: uuid.UUID):
        """Add the program's own skill; its id may not be a library skill's."""
        rt = runtime()
        return service.add_skill(
            session=rt.db.session(),
            library=rt.content,
            actor=g.actor,
            program_id=program_id,
            fields=body,
            now=rt.clock.now(),
        )


@blp.route("/programs/<uuid:program_id>/content/<any(skill,card):kind>/<string:content_id>")
class ProgramContentEntry(MethodView):
    @blp.requires("staff")
    @blp.arguments(ContentVisibility)
    @blp.response(200, ContentOverride)
    def put(self, body: dict, program_id: uuid.UUID, kind: str, content_id: str):
        """Hide (or show again) a skill or card for the program's graduates and members."""
        rt = runtime()
        return service.set_hidden(
            session=rt.db.session(),
            library=rt.content,
            actor=g.actor,
            program_id=program_id,
            kind=kind,
            content_id=content_id,
            hidden=body["hidden"],
            now=rt.clock.now(),
        )
