"""Raising, merging and routing flags, and the clinician's decision on them."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, or_, select, union_all
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from api import access
from api.audit import service as audit
from api.auth import Actor
from api.checkins.models import CheckIn
from api.errors import Conflict, NotFound
from api.flags import alerts, configuration
from api.flags import rules as flag_rules
from api.flags.models import Flag, FlagEvent
from api.graduates.models import Graduate
from api.programs.models import Program
from api.vocabulary import FlagKind, FlagOutcome, FlagSource, FlagStatus

log = logging.getLogger("api.flags")
OPEN = (FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED)
UNMERGED = (FlagKind.URGENT,)  # every positive safety answer is its own flag
# Never held back by a cooldown: safety answers, and a graduate's own ask to talk.
UNCOOLED = (FlagKind.URGENT, FlagKind.CONTACT_REQUEST)
# What a clinician may choose when resolving (superseded is the service's own).
OUTCOMES = tuple(outcome for outcome in FlagOutcome if outcome is not FlagOutcome.SUPERSEDED)
FLAG_NOT_FOUND = "No flag with that id."
REFUSED_UNQUOTED = "The rest of the check-in could not be accepted."


_POINT = (
    CheckIn.id,
    CheckIn.questionnaire,
    CheckIn.score,
    CheckIn.subscales,
    CheckIn.answers,
    CheckIn.safety_positive,
)
_POINT_FIELDS = tuple(column.key for column in _POINT)
# Built once: the rules read at most two earlier check-ins, whatever the history's length.
_EARLIER = (
    select(*_POINT, CheckIn.answered_at)
    .where(
        CheckIn.graduate_id == bindparam("graduate_id"),
        CheckIn.questionnaire == bindparam("questionnaire"),
        CheckIn.answered_at <= bindparam("answered_at"),
        CheckIn.id != bindparam("check_in_id"),
    )
    .order_by(CheckIn.answered_at.desc())  # served by the index, stops after two rows
    .limit(2)
)
# A check-in that arrives late (answered offline) is an earlier check-in of those answered
# after it: they are evaluated again, within the offline limit a late answer can reach back.
LATE_REACH = timedelta(days=7)
_LATER = (
    select(*_POINT, CheckIn.answered_at)
    .where(
        CheckIn.graduate_id == bindparam("graduate_id"),
        CheckIn.questionnaire == bindparam("questionnaire"),
        CheckIn.answered_at > bindparam("answered_at"),
        CheckIn.answered_at <= bindparam("until"),
    )
    .order_by(CheckIn.answered_at, CheckIn.id)
)
# A new check-in needs both, in one statement: its own two predecessors, and the later ones
# to evaluate again (usually none: they exist only when it arrives late).
_AROUND = union_all(_EARLIER.subquery().select(), _LATER.order_by(None))


def evaluate_check_in(
    *,
    session: Session,
    graduate: Graduate,
    point: flag_rules.Point,
    answered_at: datetime,
    now: datetime,
    idempotency_key: str | None = None,
) -> list[Flag]:
    """Run the rules for a newly scored check-in, in the same transaction; if it arrived
    after check-ins answered later than it, run theirs again with it among their
    predecessors (raising only what was not raised already: urgent flags never twice)."""
    rules = rules_of(session, graduate)
    earlier, later = _around(session, graduate.id, point, answered_at)
    raised = [
        flag
        for signal in _signals(graduate, point, earlier, rules)
        if (
            flag := raise_signal(
                session=session,
                graduate=graduate,
                signal=signal,
                now=now,
                retry_of=idempotency_key,
            )
        )
    ]
    for row in later:
        again = _point(row)
        predecessors = _earlier(session, graduate.id, again, row.answered_at)
        for signal in _signals(graduate, again, predecessors, rules):
            if signal.kind in UNMERGED or _already_raised(session, graduate.id, signal):
                continue
            flag = raise_signal(session=session, graduate=graduate, signal=signal, now=now)
            if flag is not None:
                raised.append(flag)
    return raised


def _signals(
    graduate: Graduate,
    point: flag_rules.Point,
    earlier: list[flag_rules.Point],
    rules: flag_rules.Rules,
) -> list[flag_rules.Signal]:
    """What the rules say of `point` given the check-ins answered before it, newest first."""
    baseline = {"phq9": graduate.baseline_phq9, "gad7": graduate.baseline_gad7}
    return flag_rules.evaluate(latest=[point, *earlier], baseline=baseline, rules=rules)


def _point(row: Any) -> flag_rules.Point:
    return flag_rules.Point(**{name: getattr(row, name) for name in _POINT_FIELDS})


def _parameters(
    graduate_id: uuid.UUID, point: flag_rules.Point, answered_at: datetime
) -> dict[str, Any]:
    return {
        "graduate_id": graduate_id,
        "questionnaire": point.questionnaire,
        "answered_at": answered_at,
        "check_in_id": point.id,
        "until": answered_at + LATE_REACH,
    }


def _earlier(
    session: Session, graduate_id: uuid.UUID, point: flag_rules.Point, answered_at: datetime
) -> list[flag_rules.Point]:
    """The (at most two) check-ins answered before `point`, newest first; none are read for
    instruments whose rules look at the answer alone."""
    if point.questionnaire not in flag_rules.HISTORY_INSTRUMENTS:
        return []
    rows = session.connection().execute(_EARLIER, _parameters(graduate_id, point, answered_at))
    return [_point(row) for row in rows]


def _around(
    session: Session, graduate_id: uuid.UUID, point: flag_rules.Point, answered_at: datetime
) -> tuple[list[flag_rules.Point], list[Any]]:
    """`_earlier` for a new check-in, and the same instrument's check-ins answered after it
    within LATE_REACH (oldest first), in one statement."""
    if point.questionnaire not in flag_rules.HISTORY_INSTRUMENTS:
        return [], []
    rows = session.connection().execute(_AROUND, _parameters(graduate_id, point, answered_at))
    earlier: list[Any] = []
    later: list[Any] = []
    for row in rows:
        (earlier if row.answered_at <= answered_at else later).append(row)
    earlier.sort(key=lambda row: row.answered_at, reverse=True)
    later.sort(key=lambda row: (row.answered_at, row.id))
    return [_point(row) for row in earlier], later


def _already_raised(session: Session, graduate_id: uuid.UUID, signal: flag_rules.Signal) -> bool:
    """Whether a flag of this kind and source, in any status, already cites all its evidence."""
    wanted = {str(i) for i in signal.evidence}
    cited = session.scalars(
        select(Flag.evidence).where(
            Flag.graduate_id == graduate_id, Flag.kind == signal.kind, Flag.source == signal.source
        )
    )
    return any(wanted <= set(evidence) for evidence in cited)


def raise_signal(
    *,
    session: Session,
    graduate: Graduate,
    signal: flag_rules.Signal,
    now: datetime,
    retry_of: str | None = None,
) -> Flag | None:
    """A new flag, or the open one of its kind updated; None if a cooldown holds it back.

    `retry_of`: the Idempotency-Key of a check-in being stored; if its first attempt failed
    on our side (a 5xx) after raising the urgent flag for a refused submission, that flag
    gains the check-in as evidence instead of a second flag for the same answer."""
    if signal.kind == FlagKind.URGENT and retry_of is not None:
        first_attempt = _awaiting_retry(session, graduate.id, retry_of)
        if first_attempt is not None:
            return merge_signal(session, first_attempt, signal, now)
    rules = rules_of(session, graduate)
    if signal.kind not in UNMERGED:
        existing = _open(session, graduate.id, signal.kind, signal.source)
        if existing is not None:
            return merge_signal(session, existing, signal, now)
        if signal.kind == FlagKind.WATCH and _open(
            session, graduate.id, FlagKind.STEP_UP, signal.source
        ):
            return None  # a step-up review is already open: it says more than a watch would
        if signal.kind not in UNCOOLED and _cooling_down(session, graduate.id, signal, now, rules):
            return None
        if _already_reviewed(session, graduate.id, signal):
            return None
    flag = Flag(
        graduate_id=graduate.id,
        program_id=graduate.program_id,
        kind=signal.kind,
        source=signal.source,
        status=FlagStatus.OPEN,
        rule=signal.rule,
        rules_version=rules.version,
        explanation=signal.explanation,
        evidence=[str(i) for i in signal.evidence],
        details=signal.details,
        raised_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(flag)
            session.flush()
    except IntegrityError:
        # Another evaluation raised the same kind a moment ago: merge into that one.
        existing = _open(session, graduate.id, signal.kind, signal.source)
        return merge_signal(session, existing, signal, now) if existing else None
    _event(session, flag, None, "raised", {"rule": signal.rule}, now)
    alerts.flag_raised(session=session, flag=flag, now=now)
    if signal.kind == FlagKind.STEP_UP:
        watch = _open(session, graduate.id, FlagKind.WATCH, signal.source)
        if watch is not None:
            watch.status, watch.outcome = FlagStatus.RESOLVED, FlagOutcome.SUPERSEDED
            watch.resolved_at, watch.updated_at, watch.superseded_by = now, now, flag.id
            _event(session, watch, None, "superseded", {"by": str(flag.id)}, now)
    return flag


def rules_of(session: Session, graduate: Graduate) -> flag_rules.Rules:
    """The rules of the graduate's program (already in the session after sign-in)."""
    return configuration.rules_for(session.get_one(Program, graduate.program_id))


def raise_for_refused_submission(
    *,
    session: Session,
    graduate_id: uuid.UUID,
    refused: dict[str, Any],
    now: datetime,
    part2: bool = False,
    idempotency_key: str | None = None,
) -> bool:
    """A positive safety answer raises its urgent flag even when the submission is refused
    (no check-in to cite; `details` says why). Committed on its own: the request failed.
    Returns whether the care team was told (an alert someone can receive was queued).

    The flag is a mood flag, read without the Part 2 consent: if the body touched a
    substance-use form (`part2`), the refusal is not quoted, since its wording (a BAM item's
    name, "substance-use care") would reveal that care.

    A failure on our side (5xx) may be retried with the same Idempotency-Key: the flag
    remembers a digest of the key, so the stored retry completes this flag (`raise_signal`).
    """
    message = REFUSED_UNQUOTED if part2 else refused.get("message")
    details: dict[str, Any] = {"refused": {"code": refused.get("code"), "message": message}}
    if idempotency_key is not None and (refused.get("code") or 0) >= 500:
        details["retry_key"] = _retry_digest(graduate_id, idempotency_key)
    try:
        graduate = session.get(Graduate, graduate_id)
        if graduate is None:
            return False
        flag = raise_signal(
            session=session,
            graduate=graduate,
            now=now,
            signal=flag_rules.Signal(
                FlagKind.URGENT,
                FlagSource.MOOD,
                "safety_answer",
                "Gave a safety answer that needs follow-up (PHQ-9 question 9, or \"I'm not "
                'safe right now") in a check-in the app could not accept.',
                details,
                (),
            ),
        )
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("could not raise the urgent flag for a refused submission")
        return False
    return alerts.told([flag] if flag is not None else [])


def _retry_digest(graduate_id: uuid.UUID, idempotency_key: str) -> str:
    return hashlib.sha256(f"{graduate_id}:{idempotency_key}".encode()).hexdigest()[:32]


def _awaiting_retry(session: Session, graduate_id: uuid.UUID, idempotency_key: str) -> Flag | None:
    """The urgent flag a failed first attempt of this very submission raised, if any."""
    digest = _retry_digest(graduate_id, idempotency_key)
    candidates = session.scalars(
        select(Flag).where(
            Flag.graduate_id == graduate_id,
            Flag.kind == FlagKind.URGENT,
            Flag.rule == "safety_answer",
            Flag.status != FlagStatus.RESOLVED,
        )
    )
    return next(
        (
            flag
            for flag in candidates
            if not flag.evidence and flag.details.get("retry_key") == digest
        ),
        None,
    )


def merge_signal(session: Session, flag: Flag, signal: flag_rules.Signal, now: datetime) -> Flag:
    """A repeat updates the open flag's evidence; the event keeps what it said before, so
    the flag can be shown as it stood at an earlier moment (a weekly summary's end)."""
    was = {
        "explanation": flag.explanation,
        "evidence": list(flag.evidence),
        "details": flag.details,
    }
    flag.evidence = list(dict.fromkeys([*flag.evidence, *(str(i) for i in signal.evidence)]))
    flag.explanation, flag.details, flag.updated_at = signal.explanation, signal.details, now
    _event(session, flag, None, "updated", {"rule": signal.rule, "was": was}, now)
    return flag


def _cooling_down(
    session: Session,
    graduate_id: uuid.UUID,
    signal: flag_rules.Signal,
    now: datetime,
    rules: flag_rules.Rules,
) -> bool:
    """After a clinician resolves a flag, nothing as or less severe returns for a while."""
    recent = session.scalars(
        select(Flag.kind).where(
            Flag.graduate_id == graduate_id,
            Flag.source == signal.source,
            Flag.status == FlagStatus.RESOLVED,
            Flag.outcome != FlagOutcome.SUPERSEDED,
            Flag.kind != FlagKind.URGENT,
            Flag.resolved_at > now - timedelta(days=rules.cooldown_days),
        )
    ).all()
    severity = flag_rules.SEVERITY[signal.kind]
    return any(flag_rules.SEVERITY[kind] >= severity for kind in recent)


def _already_reviewed(session: Session, graduate_id: uuid.UUID, signal: flag_rules.Signal) -> bool:
    """Whether a clinician already resolved a flag, as or more severe, that counted exactly
    these missed events.

    Missed forms, appointments and meetings name the events they count, and the same pair
    stays "the latest two" until a new one falls due: without this the daily run would raise
    it again as soon as the cooldown ends. A new missed event makes a new pair. Inactivity
    is left out: a silence that goes on is news each time. A flag counted every signal
    merged into it, so the details each merge replaced (kept in its events) count too."""
    events = _missed_events(signal.details)
    if events is None:
        return False
    severity = flag_rules.SEVERITY[signal.kind]
    reviewed = {
        flag_id: details
        for flag_id, kind, details in session.execute(
            select(Flag.id, Flag.kind, Flag.details).where(
                Flag.graduate_id == graduate_id,
                Flag.source == signal.source,
                Flag.kind.in_((FlagKind.DISENGAGED, FlagKind.STEP_UP)),
                Flag.status == FlagStatus.RESOLVED,
                Flag.outcome != FlagOutcome.SUPERSEDED,
            )
        )
        if flag_rules.SEVERITY[kind] >= severity
    }
    if not reviewed:
        return False
    replaced = session.scalars(
        select(FlagEvent.details).where(
            FlagEvent.flag_id.in_(reviewed), FlagEvent.action == "updated"
        )
    )
    counted = [*reviewed.values(), *((data.get("was") or {}).get("details") for data in replaced)]
    return any(_missed_events(details) == events for details in counted)


def _missed_events(details: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """Which missed events a disengagement signal counted: the form or group and the due
    dates or occurrences (None: it counts no events, as inactivity)."""
    details = details or {}
    events = details.get("missed_due_dates", details.get("missed"))
    if events is None:
        return None
    return (details.get("form"), details.get("group_id"), tuple(events))


def _open(session: Session, graduate_id: uuid.UUID, kind: str, source: str) -> Flag | None:
    return session.scalar(
        select(Flag).where(
            Flag.graduate_id == graduate_id,
            Flag.kind == kind,
            Flag.source == source,
            Flag.status.in_(OPEN),
        )
    )


def _event(
    session: Session,
    flag: Flag,
    actor: Actor | None,
    action: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        FlagEvent(
            flag_id=flag.id,
            at=now,
            actor_user_id=actor.user_id if actor else None,
            action=action,
            details=details,
        )
    )


# --- what clinicians see and do ------------------------------------------------------


def visible(*, actor: Actor, status: str | None, graduate_id: uuid.UUID | None) -> Select[Flag]:
    """Most severe first, then oldest; without a status, open and acknowledged ones ("all":
    every status, for the console's view of what a rules version raised)."""
    statement = _visible_to(actor)
    if status != "all":
        statement = statement.where(Flag.status == status if status else Flag.status.in_(OPEN))
    if graduate_id is not None:
        statement = statement.where(Flag.graduate_id == graduate_id)
    severity = case({kind: rank for rank, kind in enumerate(flag_rules.KINDS)}, value=Flag.kind)
    return statement.order_by(severity, Flag.raised_at, Flag.id)


def page_for(
    *,
    session: Session,
    actor: Actor,
    status: str | None,
    graduate_id: uuid.UUID | None,
    offset: int,
    limit: int,
    now: datetime,
    rules_version: str | None = None,
) -> tuple[list[Flag], int]:
    """One page of the caller's flags and the total; each graduate on the page is audited.
    `rules_version` narrows to the flags one version of the step-up rules raised."""
    statement = visible(actor=actor, status=status, graduate_id=graduate_id)
    if rules_version is not None:
        statement = statement.where(Flag.rules_version == rules_version)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    flags = list(session.scalars(statement.offset(offset).limit(limit)))
    for flagged in {(flag.graduate_id, flag.program_id) for flag in flags}:
        audit.record(
            session=session,
            actor=actor,
            action="flag.list",
            graduate_id=flagged[0],
            program_id=flagged[1],
            outcome="allowed",
            now=now,
        )
    return flags, int(total or 0)


def _visible_to(actor: Actor) -> Select[Flag]:
    """Staff: their programs' flags. Therapists: their consenting graduates' flags, and
    substance-use flags only under the Part 2 consent."""
    keys = {"graduate_id": Flag.graduate_id, "program_id": Flag.program_id}
    return select(Flag).where(
        or_(
            and_(
                Flag.source != access.PART2_SOURCE,
                access.sees(actor, **keys, need=access.Need.CLINICAL),
            ),
            access.sees(actor, **keys, need=access.Need.SUBSTANCE_USE),
        )
    )


def get(*, session: Session, actor: Actor, flag_id: uuid.UUID, now: datetime) -> Flag:
    """A flag the caller may see (404 otherwise: they may not learn it exists); audited."""
    flag = session.scalar(_visible_to(actor).where(Flag.id == flag_id))
    if flag is None:
        raise NotFound(FLAG_NOT_FOUND)
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=flag.graduate_id,
        need=access.need_for_source(flag.source),
        action="flag.read",
        now=now,
    )
    return flag


def history(
    *, session: Session, actor: Actor, flag_id: uuid.UUID, now: datetime
) -> list[FlagEvent]:
    """Every state change of a flag, oldest first, for the record or an export."""
    return with_history(session=session, actor=actor, flag_id=flag_id, now=now)[1]


def with_history(
    *, session: Session, actor: Actor, flag_id: uuid.UUID, now: datetime
) -> tuple[Flag, list[FlagEvent]]:
    """The flag and its history in one checked, audited read (the console's flag page)."""
    flag = get(session=session, actor=actor, flag_id=flag_id, now=now)
    return flag, list(
        session.scalars(
            select(FlagEvent).where(FlagEvent.flag_id == flag_id).order_by(FlagEvent.id)
        )
    )


def acknowledge(
    *, session: Session, actor: Actor, flag_id: uuid.UUID, note: str | None, now: datetime
) -> Flag:
    flag = get(session=session, actor=actor, flag_id=flag_id, now=now)
    if flag.status == FlagStatus.RESOLVED:
        raise Conflict("This flag is already resolved.")
    if flag.status == FlagStatus.OPEN:
        flag.status, flag.acknowledged_at, flag.updated_at = FlagStatus.ACKNOWLEDGED, now, now
        _event(session, flag, actor, "acknowledged", {"note": note}, now)
        alerts.flag_taken(session=session, flag=flag, actor=actor)
    return flag


def resolve(
    *, session: Session, actor: Actor, flag_id: uuid.UUID, outcome: str, note: str, now: datetime
) -> Flag:
    flag = get(session=session, actor=actor, flag_id=flag_id, now=now)
    if flag.status == FlagStatus.RESOLVED:
        raise Conflict("This flag is already resolved.")
    flag.status, flag.outcome, flag.note = FlagStatus.RESOLVED, outcome, note
    flag.resolved_at, flag.updated_at = now, now
    _event(session, flag, actor, "resolved", {"outcome": outcome}, now)
    alerts.flag_taken(session=session, flag=flag, actor=actor)
    return flag


def request_contact(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> None:
    """ "I'd like to talk to someone": a flag for the care team, never an alarm for the graduate."""
    graduate = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="contact_request",
        now=now,
    ).graduate
    raise_signal(
        session=session,
        graduate=graduate,
        now=now,
        signal=flag_rules.Signal(
            FlagKind.CONTACT_REQUEST,
            FlagSource.MOOD,
            "graduate_asked",
            "Asked in the app to talk to someone from their care team.",
            {},
            (),
        ),
    )
