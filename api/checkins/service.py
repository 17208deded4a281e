"""Check-ins: submit (offline-tolerant, idempotent, safety first), history and trends."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.checkins import safety, scoring
from api.checkins.models import CheckIn, IdempotentRequest
from api.content.loader import ContentLibrary, Questionnaire
from api.db import rowcount
from api.errors import Conflict, Invalid, NotFound
from api.flags import alerts
from api.flags import service as flags
from api.flags.rules import Point
from api.graduates.models import Graduate
from api.reminders import completion as reminders

OFFLINE_LIMIT = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)
IDEMPOTENCY_WINDOW = timedelta(hours=24)
TREND_INSTRUMENTS = ("phq9", "gad7", "who5", "daily", "bam")
# Core, not the unit of work, built once: this is the hottest write in the app.
_INSERT_CHECK_IN = insert(CheckIn.__table__)


def submit(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    questionnaire: str,
    answers: dict[str, Any],
    answered_at: datetime,
    idempotency_key: str | None,
    library: ContentLibrary,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """The reply body, and whether it replays an earlier submission with the same key."""
    graduate = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="check_in.submit",
        now=now,
    ).graduate
    request_hash = _hash(questionnaire, answers, answered_at)
    form = _form(library, questionnaire, substance_use=graduate.substance_use)
    problems = scoring.answer_problems(form, answers)
    if problems:
        named = ", ".join(sorted(problems))
        raise Invalid(f"Some answers need another look: {named}.", errors={"answers": problems})
    if answered_at > now + CLOCK_SKEW:
        raise Invalid(
            "The answer time is in the future; check the phone's clock.",
            errors={"answered_at": ["at most 5 minutes ahead of now"]},
        )
    if answered_at < now - OFFLINE_LIMIT:
        raise Invalid(
            "That check-in is more than 7 days old.",
            errors={"answered_at": ["at most 7 days in the past"]},
        )

    scored = scoring.score(form, answers)
    check_in_id = uuid.uuid4()
    # Through the session, not its connection: a daily check-in that screens positive makes
    # a full form due now, and the session is where reminders.changes sees that.
    session.execute(
        _INSERT_CHECK_IN,
        {
            "id": check_in_id,
            "graduate_id": graduate_id,
            "questionnaire": form.id,
            "form_version": form.version,
            "answered_at": answered_at,
            "submitted_at": now,
            "answers": dict(answers),
            "score": scored.score,
            "band": scored.band,
            "subscales": scored.subscales,
            "safety_positive": scored.safety_positive,
            "part2": form.part2,
        },
    )
    point = Point(
        id=check_in_id,
        questionnaire=form.id,
        score=scored.score,
        subscales=scored.subscales,
        answers=dict(answers),
        safety_positive=scored.safety_positive,
    )
    raised = flags.evaluate_check_in(
        session=session,
        graduate=graduate,
        point=point,
        answered_at=answered_at,
        now=now,
        idempotency_key=idempotency_key,
    )
    reminders.check_in_submitted(session=session, graduate=graduate, questionnaire=form.id, now=now)
    reply = {
        "id": check_in_id,
        "questionnaire": form.id,
        "form_version": form.version,
        "answered_at": answered_at,
        "score": scored.score,
        "band": scored.band,
        "subscales": scored.subscales,
        "safety": safety.block(
            session=session,
            graduate_id=graduate_id,
            positive=scored.safety_positive,
            care_team_told=alerts.told(raised),
        ),
    }
    if idempotency_key is not None and not _claim_key(
        session, graduate_id, idempotency_key, request_hash, reply, now
    ):
        # A live key: this is a retry. Undo everything above and answer as the first time.
        session.rollback()
        return _replay(session, graduate_id, idempotency_key, request_hash), True
    return reply, False


def history(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    questionnaire: str | None,
    now: datetime,
) -> Select[CheckIn]:
    """Newest first. Substance-use check-ins only for a caller who may see Part 2 records."""
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.CLINICAL,
        action="check_in.list",
        now=now,
    )
    return history_for(
        graduate_id=graduate_id,
        sees_substance_use=found.sees_substance_use,
        questionnaire=questionnaire,
    )


def history_for(
    *, graduate_id: uuid.UUID, sees_substance_use: bool, questionnaire: str | None
) -> Select[CheckIn]:
    """`history` for a caller `access` has already let in (with what it may see)."""
    statement = select(CheckIn).where(CheckIn.graduate_id == graduate_id)
    if not sees_substance_use:
        statement = statement.where(CheckIn.part2.is_(False))
    if questionnaire is not None:
        statement = statement.where(CheckIn.questionnaire == questionnaire)
    return statement.order_by(CheckIn.answered_at.desc(), CheckIn.id)


def one(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    check_in_id: uuid.UUID,
    now: datetime,
) -> CheckIn:
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.CLINICAL,
        action="check_in.read",
        now=now,
    )
    check_in = session.get(CheckIn, check_in_id)
    if check_in is None or check_in.graduate_id != graduate_id:
        raise NotFound("No check-in with that id.")
    if check_in.part2 and not found.sees_substance_use:
        # A 403 would tell a reader without Part 2 consent that substance-use care exists.
        raise NotFound("No check-in with that id.", graduate_id=graduate_id, action="check_in.read")
    return check_in


def trends(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    instrument: str,
    start: datetime | None,
    end: datetime | None,
    library: ContentLibrary,
    now: datetime,
) -> dict[str, Any]:
    """Points to chart, with the discharge baseline and the band edges to draw behind them."""
    need = access.Need.SUBSTANCE_USE if instrument == "bam" else access.Need.CLINICAL
    graduate = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=need,
        action="check_in.trends",
        now=now,
    ).graduate
    statement = select(CheckIn).where(
        CheckIn.graduate_id == graduate_id, CheckIn.questionnaire == instrument
    )
    if start is not None:
        statement = statement.where(CheckIn.answered_at >= start)
    if end is not None:
        statement = statement.where(CheckIn.answered_at < end)
    return _trend(
        graduate, instrument, session.scalars(statement.order_by(CheckIn.answered_at)), library
    )


def trends_for(
    *, session: Session, graduate: Graduate, instruments: tuple[str, ...], library: ContentLibrary
) -> list[dict[str, Any]]:
    """`trends` of several instruments in one query, for a caller `access` has already let
    in for each of them (the console's graduate page)."""
    points: dict[str, list[CheckIn]] = {instrument: [] for instrument in instruments}
    for point in session.scalars(
        select(CheckIn)
        .where(CheckIn.graduate_id == graduate.id, CheckIn.questionnaire.in_(instruments))
        .order_by(CheckIn.answered_at)
    ):
        points[point.questionnaire].append(point)
    return [_trend(graduate, each, points[each], library) for each in instruments]


def _trend(
    graduate: Graduate, instrument: str, points: Iterable[CheckIn], library: ContentLibrary
) -> dict[str, Any]:
    form = library.questionnaire(instrument)
    baseline = {"phq9": graduate.baseline_phq9, "gad7": graduate.baseline_gad7}.get(instrument)
    return {
        "instrument": instrument,
        "baseline": baseline,
        "bands": [{"band": b.band, "min": b.min, "max": b.max} for b in form.bands] if form else [],
        "points": [
            {
                "id": point.id,
                "answered_at": point.answered_at,
                "score": point.score,
                "band": point.band,
                "subscales": point.subscales,
                "mood": point.answers.get("daily-mood") if instrument == "daily" else None,
            }
            for point in points
        ],
    }


def _form(library: ContentLibrary, questionnaire: str, *, substance_use: bool) -> Questionnaire:
    form = library.questionnaire(questionnaire)
    if form is None or not form.standalone:
        raise Invalid("Unknown questionnaire.", errors={"questionnaire": ["not a check-in form"]})
    if form.part2 and not substance_use:
        raise Invalid(
            "This check-in is for people in substance-use recovery care.",
            errors={"questionnaire": ["not part of this graduate's care"]},
        )
    return form


def _hash(questionnaire: str, answers: dict[str, Any], answered_at: datetime) -> str:
    canonical = json.dumps(
        {"q": questionnaire, "a": answers, "t": answered_at.isoformat()}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim_statement(insert_for: Callable[[Table], Any]) -> Any:
    """Store a reply under its key; over a live key (under 24 hours) nothing is written and
    no id returned, an expired one is overwritten. Built once per dialect (SQLite and
    PostgreSQL share the syntax, SQLAlchemy builds it per dialect): building it costs more
    than running it."""
    table = IdempotentRequest.__table__
    statement = insert_for(table)
    return statement.on_conflict_do_update(
        index_elements=["graduate_id", "key"],
        set_={
            "request_hash": statement.excluded.request_hash,
            "response": statement.excluded.response,
            "created_at": statement.excluded.created_at,
        },
        where=table.c.created_at <= bindparam("expired_before"),
    ).returning(table.c.id)


_CLAIM = {
    "postgresql": _claim_statement(postgresql.insert),
    "sqlite": _claim_statement(sqlite.insert),
}


def _claim_key(
    session: Session,
    graduate_id: uuid.UUID,
    key: str,
    request_hash: str,
    reply: dict[str, Any],
    now: datetime,
) -> bool:
    """Store the reply under the key in one statement; False if a live key already holds one."""
    connection = session.connection()
    claimed = connection.execute(
        _CLAIM[connection.dialect.name],
        {
            "id": uuid.uuid4(),
            "graduate_id": graduate_id,
            "key": key,
            "request_hash": request_hash,
            "response": json.loads(json.dumps(reply, default=str)),
            "created_at": now,
            "expired_before": now - IDEMPOTENCY_WINDOW,
        },
    ).first()
    return claimed is not None


def _replay(
    session: Session, graduate_id: uuid.UUID, key: str, request_hash: str
) -> dict[str, Any]:
    earlier = session.scalars(
        select(IdempotentRequest).where(
            IdempotentRequest.graduate_id == graduate_id, IdempotentRequest.key == key
        )
    ).one()
    if earlier.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used for a different check-in.")
    stored = earlier.response
    return {
        **stored,
        "id": uuid.UUID(stored["id"]),
        "answered_at": datetime.fromisoformat(stored["answered_at"]),
    }


def purge_idempotency_keys(*, session: Session, now: datetime) -> int:
    """Stored replies carry health data: keep them only as long as a retry may come."""
    result = session.execute(
        delete(IdempotentRequest).where(IdempotentRequest.created_at <= now - IDEMPOTENCY_WINDOW)
    )
    return rowcount(result)
