"""A program's step-up rules as versioned data: the numbers in force, a change (always a new
version, never an edit), and the history any flag's `rules_version` points into."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Invalid
from api.flags import rules as flag_rules
from api.flags.models import FlagRuleVersion
from api.programs.models import Membership, Program, Role

READERS = (Role.STAFF, Role.THERAPIST)


def rules_for(program: Program) -> flag_rules.Rules:
    """The rules a program's evaluations run under."""
    return flag_rules.for_program(program.flag_rules, program.flag_rules_version)


def current(*, session: Session, actor: Actor, program_id: uuid.UUID) -> dict[str, Any]:
    program = access.program(session=session, actor=actor, program_id=program_id, role=READERS)
    latest = session.scalar(
        select(FlagRuleVersion).where(
            FlagRuleVersion.program_id == program_id,
            FlagRuleVersion.number == program.flag_rules_version,
        )
    )
    return _described(program, latest)


def change(
    *,
    session: Session,
    actor: Actor,
    program_id: uuid.UUID,
    settings: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Store `settings` as the program's next version; flags raised from now on cite it."""
    program = access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    settings = {**flag_rules.DEFAULT_RULES.settings(), **settings}
    _check_consistent(settings)
    _check_on_call(session, program_id, settings["on_call_emails"])
    version = FlagRuleVersion(
        program_id=program_id,
        number=program.flag_rules_version + 1,
        settings=settings,
        changed_at=now,
        changed_by_user_id=actor.user_id,
    )
    session.add(version)
    program.flag_rules, program.flag_rules_version = settings, version.number
    session.flush()  # a concurrent change took this number: the unique key answers 409
    return _described(program, version)


def versions(*, session: Session, actor: Actor, program_id: uuid.UUID) -> Select[FlagRuleVersion]:
    access.program(session=session, actor=actor, program_id=program_id, role=READERS)
    return (
        select(FlagRuleVersion)
        .where(FlagRuleVersion.program_id == program_id)
        .order_by(FlagRuleVersion.number.desc())
    )


def _described(program: Program, latest: FlagRuleVersion | None) -> dict[str, Any]:
    rules = rules_for(program)
    return {
        "number": program.flag_rules_version,
        "version": rules.version,
        "settings": rules.settings(),
        "changed_at": latest.changed_at if latest else None,
        "changed_by_user_id": latest.changed_by_user_id if latest else None,
    }


def _check_consistent(settings: dict[str, Any]) -> None:
    """Severe must sit above moderate, or a step-up would fire before any watch could."""
    low = [
        name for name, severe in settings["severe_at"].items() if severe <= settings["moderate_at"]
    ]
    if low:
        raise Invalid(
            "The severe thresholds must be above the moderate threshold.",
            errors={"severe_at": [f"{name} must be above moderate_at" for name in low]},
        )


def _check_on_call(session: Session, program_id: uuid.UUID, emails: list[str]) -> None:
    """Escalations must reach someone who can act: every on-call email is program staff."""
    wanted = {email.strip().lower() for email in emails}
    staff = set(
        session.scalars(
            select(Membership.email).where(
                Membership.program_id == program_id,
                Membership.role == Role.STAFF,
                Membership.email.in_(wanted),
            )
        )
    )
    if missing := sorted(wanted - staff):
        raise Invalid(
            "On-call people must be staff members of this program.",
            errors={"on_call_emails": [f"not a staff member: {email}" for email in missing]},
        )
