"""Plan versions: If-Match checks, the database-checked version bump, and the change log."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from api import access
from api.auth import Actor
from api.db import Base, rowcount
from api.errors import Conflict, NotFound
from api.graduates.models import Graduate
from api.plans.models import Plan, PlanChange

EMPTY_SAFETY_PLAN: dict[str, list[Any]] = {
    "warning_signs": [],
    "internal_coping": [],
    "distractions": [],
    "distraction_places": [],
    "people_to_ask": [],
    "professionals": [],
    "environment_safety": [],
}


class PreconditionFailed(Conflict):
    """If-Match named a version that is no longer current."""

    status = 412


def etag(version: int) -> str:
    return f'"plan-{version}"'


def parse_if_match(header: str | None) -> int | None:
    """The plan version an If-Match header names; None when absent or `*`."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.startswith("plan-") or not value[5:].isdigit():
        raise PreconditionFailed("If-Match must be the ETag of the plan you read.")
    return int(value[5:])


def editable_plan(
    *, session: Session, graduate_id: uuid.UUID, expected_version: int | None, now: datetime
) -> Plan:
    """The plan row, created on first write, after checking the caller's If-Match."""
    plan = session.scalar(select(Plan).where(Plan.graduate_id == graduate_id))
    current = plan.version if plan else 0
    if expected_version is not None and expected_version != current:
        raise PreconditionFailed(
            f"The plan changed since you read it (now version {current}); reload and try again."
        )
    if plan is None:
        plan = Plan(
            graduate_id=graduate_id,
            version=0,
            warning_signs=[],
            triggers=[],
            safety_plan=dict(EMPTY_SAFETY_PLAN),
            contacts=[],
            step_down=[],
            created_at=now,
            updated_at=now,
        )
        session.add(plan)
    return plan


def record_change(
    *,
    session: Session,
    plan: Plan,
    actor: Actor,
    section: str,
    action: str,
    now: datetime,
    item_id: uuid.UUID | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Bump the plan's version and keep who changed what.

    The bump is a compare-and-set in the database, so of two edits racing from one
    version exactly one wins and the other gets 412.
    """
    session.flush()
    read_version = plan.version
    bumped = session.execute(
        update(Plan)
        .where(Plan.id == plan.id, Plan.version == read_version)
        .values(version=read_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(bumped) != 1:
        raise PreconditionFailed("Someone else changed the plan at the same moment; reload it.")
    set_committed_value(plan, "version", read_version + 1)
    set_committed_value(plan, "updated_at", now)
    session.add(
        PlanChange(
            graduate_id=plan.graduate_id,
            version=plan.version,
            section=section,
            action=action,
            item_id=item_id,
            actor_user_id=actor.user_id,
            actor_role=actor.primary_role,
            changed_at=now,
            before=_jsonable(before),
            after=_jsonable(after),
        )
    )
    session.flush()


def _jsonable(value: Any) -> Any:
    """Dates and ids as text, so a change record survives JSON storage."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def get_item(
    session: Session, model: type[Base], item_id: uuid.UUID, graduate_id: uuid.UUID
) -> Any:
    item: Any = session.get(model, item_id)  # every model here has a graduate_id
    if item is None or item.graduate_id != graduate_id:
        raise NotFound(f"No {model.__tablename__[:-1].replace('_', ' ')} with that id.")
    return item


def care_team_graduate(
    session: Session, actor: Actor, graduate_id: uuid.UUID, action: str, now: datetime
) -> Graduate:
    """The graduate, if the caller may change the care team's parts of their plan."""
    return access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.CARE,
        action=action,
        now=now,
    ).graduate


def care_team_edit(
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    action: str,
    expected_version: int | None,
    now: datetime,
) -> tuple[Graduate, Plan]:
    """The start of every change to the care team's parts: who may, and which version."""
    graduate = care_team_graduate(session, actor, graduate_id, action, now)
    plan = editable_plan(
        session=session, graduate_id=graduate_id, expected_version=expected_version, now=now
    )
    return graduate, plan
