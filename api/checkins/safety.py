"""The safety response: the graduate's own plan, the program's crisis lines, and honesty that
no one watches the app live. Built even when the rest of a submission is refused."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.graduates.models import Graduate
from api.plans.models import Plan
from api.programs.models import Program, default_crisis_lines

log = logging.getLogger("api.safety")
CARE_TEAM_TOLD = " We have also let your care team know, but they may not see it right away."
# Said only when no alert could reach anyone (api.flags.alerts): the crisis lines are the way.
NOT_TOLD = " We could not reach your care team just now, so please use the crisis lines."

MESSAGE = (
    "Thank you for telling us. Please use your safety plan now and reach out to someone. "
    "You can call or text 988 (Suicide & Crisis Lifeline) at any hour, or call 911 if you "
    "are in danger right now. This app is not watched live, so no one will see this answer "
    "straight away."
)


def block(
    *,
    session: Session,
    graduate_id: uuid.UUID | None,
    positive: bool,
    care_team_told: bool = False,
) -> dict[str, Any]:
    """The `safety` object of a check-in reply: resources always, the plan when positive."""
    resources, safety_plan = default_crisis_lines(), None
    graduate = session.get(Graduate, graduate_id) if graduate_id is not None else None
    if graduate is not None:
        # Usually already in the session from sign-in: no query unless the answer is positive.
        resources = session.get_one(Program, graduate.program_id).crisis_lines or resources
        if positive:
            safety_plan = session.scalar(
                select(Plan.safety_plan).where(Plan.graduate_id == graduate.id)
            )
    return {
        "positive": positive,
        "message": (MESSAGE + (CARE_TEAM_TOLD if care_team_told else NOT_TOLD))
        if positive
        else None,
        "resources": [_resource(line) for line in resources],
        "safety_plan": safety_plan if positive else None,
    }


def block_whatever_happens(
    *, session: Session, graduate_id: uuid.UUID | None, care_team_told: bool
) -> dict[str, Any]:
    """For error replies: if even the database fails, 988 and 911 are still shown."""
    try:
        return block(
            session=session, graduate_id=graduate_id, positive=True, care_team_told=care_team_told
        )
    except SQLAlchemyError:
        session.rollback()
        log.warning("safety block built without the database")
        return block(session=session, graduate_id=None, positive=True)


# A flat JSON object after "answers" (check-in answers are numbers: no nesting to match).
ANSWERS = re.compile(rb'"answers"\s*:\s*(\{[^{}\[\]]*\})')


def salvaged_answers(raw: bytes) -> dict[str, Any] | None:
    """The answers of a body that cannot be parsed as a whole (malformed, or nested too
    deeply elsewhere), for the safety screen only: the first flat `"answers": {...}` in it."""
    found = ANSWERS.search(raw)
    if found is None:
        return None
    try:
        answers = json.loads(found.group(1))
    except ValueError:
        return None
    return {"answers": answers} if isinstance(answers, dict) else None


def _resource(line: dict[str, Any]) -> dict[str, Any]:
    return {"name": line.get("name"), "phone": line.get("phone"), "text": line.get("text")}
