from __future__ import annotations

import uuid
from typing import Any

from flask import g, request
from flask.views import MethodView

from api.checkins import safety, schedule, scoring, service
from api.checkins.schemas import (
    CheckIn,
    CheckInCreate,
    CheckInDue,
    CheckInHeaders,
    CheckInQuery,
    CheckInResult,
    Trend,
    TrendQuery,
)
from api.extensions.smorest import Blueprint, SelectPage
from api.flags import service as flags
from api.runtime import runtime

blp = Blueprint("check-ins", __name__, url_prefix="/api/v1", description="Check-ins and trends")
GRADUATE = "/graduates/<uuid:graduate_id>"
CLINICAL_READERS = ("graduate", "staff", "therapist")


SUBMISSION = ("check-ins.CheckIns", "POST")


@blp.before_app_request
def safety_first() -> None:
    """Before anything can refuse a check-in submission (a body too broken to parse, sign-in,
    validation): a body that says the person is not safe makes every reply carry the safety
    block, so a phone with a wrong clock still shows 988. Registered with the blueprint,
    so it runs before api.extensions.bodies refuses what cannot be parsed."""
    if unsafe_submission():
        g.error_extras = _safety_for_error


def unsafe_submission() -> bool:
    """Whether this request is a check-in submission whose body holds a positive safety
    answer, however wrong the rest of it is (even unparseable as a whole). Asked by the
    safety screen and the write budget: screened once per request."""
    if (request.endpoint, request.method) != SUBMISSION:
        return False
    if "unsafe_submission" not in g:
        body = request.get_json(force=True, silent=True)
        if body is None:
            body = safety.salvaged_answers(request.get_data(cache=True))
        g.unsafe_submission = scoring.screens_positive(runtime().content, body)
    return bool(g.unsafe_submission)


def _safety_for_error(reply: dict[str, Any]) -> dict[str, Any]:
    """The safety block for a refused submission; a signed-in graduate's care team is told
    all the same, with the reason the rest was refused."""
    rt = runtime()
    actor = g.get("actor")
    graduate_id = actor.graduate_id if actor else None
    told = graduate_id is not None and flags.raise_for_refused_submission(
        session=rt.db.session(),
        graduate_id=graduate_id,
        refused=reply,
        part2=scoring.touches_part2(rt.content, request.get_json(force=True, silent=True)),
        now=rt.clock.now(),
        idempotency_key=request.headers.get("Idempotency-Key") or None,
    )
    return {
        "safety": safety.block_whatever_happens(
            session=rt.db.session(), graduate_id=graduate_id, care_team_told=told
        )
    }


# The hottest route: its schemas are instances made once, not made for every request.
SUBMIT_HEADERS, SUBMIT_BODY, SUBMIT_RESULT = CheckInHeaders(), CheckInCreate(), CheckInResult()


@blp.route(f"{GRADUATE}/check-ins")
class CheckIns(MethodView):
    @blp.requires("graduate")
    @blp.arguments(SUBMIT_HEADERS, location="headers")
    @blp.arguments(SUBMIT_BODY)
    @blp.response(201, SUBMIT_RESULT)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, headers: dict, body: dict, graduate_id: uuid.UUID):
        """Submit a check-in (Idempotency-Key header optional; answered_at up to 7 days back)."""
        rt = runtime()
        reply, replayed = service.submit(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            idempotency_key=headers.get("idempotency_key") or None,
            library=rt.content,
            now=rt.clock.now(),
            **body,
        )
        return reply, {"Idempotent-Replayed": "true"} if replayed else {}

    @blp.requires(*CLINICAL_READERS)
    @blp.arguments(CheckInQuery, location="query")
    @blp.response(200, CheckIn(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict, graduate_id: uuid.UUID):
        """History, newest first, with item-level answers (therapists: with consent)."""
        rt = runtime()
        return service.history(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            questionnaire=query.get("questionnaire"),
            now=rt.clock.now(),
        )


@blp.route(f"{GRADUATE}/check-ins/due")
class DueCheckIns(MethodView):
    @blp.requires(*CLINICAL_READERS)
    @blp.response(200, CheckInDue(many=True))
    def get(self, graduate_id: uuid.UUID):
        """Check-ins whose window is open now, in the graduate's local day (without the
        Part 2 consent: as if the BAM and substance-use flags did not exist)."""
        rt = runtime()
        return schedule.due_for(
            session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
        )


@blp.route(f"{GRADUATE}/check-ins/<uuid:check_in_id>")
class CheckInEntry(MethodView):
    @blp.requires(*CLINICAL_READERS)
    @blp.response(200, CheckIn)
    def get(self, graduate_id: uuid.UUID, check_in_id: uuid.UUID):
        """One check-in with its item-level answers."""
        rt = runtime()
        return service.one(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            check_in_id=check_in_id,
            now=rt.clock.now(),
        )


@blp.route(f"{GRADUATE}/trends")
class Trends(MethodView):
    @blp.requires(*CLINICAL_READERS)
    @blp.arguments(TrendQuery, location="query")
    @blp.response(200, Trend)
    def get(self, query: dict, graduate_id: uuid.UUID):
        """Scores over time with the discharge baseline and band edges (?instrument=&from=&to=)."""
        rt = runtime()
        return service.trends(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            instrument=query["instrument"],
            start=query.get("start"),
            end=query.get("end"),
            library=rt.content,
            now=rt.clock.now(),
        )
