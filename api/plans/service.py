"""The continuing-care plan: one versioned document per graduate, and its parts.

Ownership: appointments, medications, skills and step-down are the care team's (staff
or a care-team therapist); warning signs, triggers, the safety plan and contacts are
shared with the graduate; reports and practice logs are the graduate's own.
"""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.graduates.models import Graduate
from api.plans import skills
from api.plans.models import Appointment, Medication, Plan, PlanChange
from api.plans.versioning import (
    EMPTY_SAFETY_PLAN,
    care_team_edit,
    editable_plan,
    get_item,
    record_change,
)
from api.programs.models import Program, default_crisis_lines

CARE_SECTIONS = ("step_down",)


def read(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    catalogue: skills.SkillCatalogue,
    now: datetime,
) -> dict[str, Any]:
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.PROFILE,
        action="plan.read",
        now=now,
    )
    return document(session=session, graduate=found.graduate, catalogue=catalogue)


def document(
    *, session: Session, graduate: Graduate, catalogue: skills.SkillCatalogue
) -> dict[str, Any]:
    """The whole plan as the phone shows it; a plan never written reads as empty, version 0."""
    plan = session.scalar(select(Plan).where(Plan.graduate_id == graduate.id))
    program = session.get_one(Program, graduate.program_id)
    return {
        "graduate_id": graduate.id,
        "version": plan.version if plan else 0,
        "updated_at": plan.updated_at if plan else None,
        "appointments": [
            appointment_view(item)
            for item in session.scalars(
                select(Appointment)
                .where(Appointment.graduate_id == graduate.id)
                .order_by(Appointment.starts_at, Appointment.id)
            )
        ],
        "medications": list(
            session.scalars(
                select(Medication)
                .where(Medication.graduate_id == graduate.id)
                .order_by(Medication.created_at, Medication.id)
            )
        ),
        "skills": skills.for_plan(session=session, graduate=graduate, catalogue=catalogue),
        "step_down": plan.step_down if plan else [],
        "warning_signs": plan.warning_signs if plan else [],
        "triggers": plan.triggers if plan else [],
        "safety_plan": plan.safety_plan if plan else EMPTY_SAFETY_PLAN,
        "contacts": plan.contacts if plan else [],
        "crisis_lines": program.crisis_lines or default_crisis_lines(),
        "program_phone": program.phone,
    }


def appointment_view(item: Appointment) -> dict[str, Any]:
    local = item.starts_at.astimezone(zoneinfo.ZoneInfo(item.timezone))
    return {
        "id": item.id,
        "kind": item.kind,
        "clinician_name": item.clinician_name,
        "location": item.location,
        "video_url": item.video_url,
        "starts_at": item.starts_at,
        "starts_at_local": local.replace(tzinfo=None).isoformat(timespec="minutes"),
        "timezone": item.timezone,
        "duration_minutes": item.duration_minutes,
        "rrule": item.rrule,
    }


def replace_section(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    section: str,
    value: Any,
    catalogue: skills.SkillCatalogue,
    expected_version: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Replace one document section (warning signs, triggers, safety plan, contacts, step-down)."""
    need = access.Need.CARE if section in CARE_SECTIONS else access.Need.PROFILE
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=need,
        action=f"plan.{section}.update",
        now=now,
    )
    plan = editable_plan(
        session=session, graduate_id=graduate_id, expected_version=expected_version, now=now
    )
    before = getattr(plan, section)
    setattr(plan, section, value)
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section=section,
        action="updated",
        before=before,
        after=value,
        now=now,
    )
    return document(session=session, graduate=found.graduate, catalogue=catalogue)


def changes(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    since: datetime | None,
    now: datetime,
) -> Select[PlanChange]:
    """What changed, newest first: "what changed since last week" for a therapist."""
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.PROFILE,
        action="plan.changes.read",
        now=now,
    )
    statement = select(PlanChange).where(PlanChange.graduate_id == graduate_id)
    if since is not None:
        statement = statement.where(PlanChange.changed_at >= since)
    return statement.order_by(PlanChange.version.desc())


def add_medication(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
    **fields: Any,
) -> Medication:
    _, plan = care_team_edit(
        session, actor, graduate_id, "plan.medications.add", expected_version, now
    )
    item = Medication(graduate_id=graduate_id, created_at=now, **fields)
    session.add(item)
    session.flush()
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="medications",
        action="added",
        item_id=item.id,
        after=fields,
        now=now,
    )
    return item


def replace_medication(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    medication_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
    **fields: Any,
) -> Medication:
    _, plan = care_team_edit(
        session, actor, graduate_id, "plan.medications.update", expected_version, now
    )
    item = get_item(session, Medication, medication_id, graduate_id)
    before = {key: getattr(item, key) for key in fields}
    for key, value in fields.items():
        setattr(item, key, value)
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="medications",
        action="updated",
        item_id=item.id,
        before=before,
        after=fields,
        now=now,
    )
    return item


def remove_medication(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    medication_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
) -> None:
    _, plan = care_team_edit(
        session, actor, graduate_id, "plan.medications.remove", expected_version, now
    )
    item = get_item(session, Medication, medication_id, graduate_id)
    session.delete(item)
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="medications",
        action="removed",
        item_id=medication_id,
        now=now,
    )
