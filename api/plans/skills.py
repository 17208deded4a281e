"""Skills in the plan (the care team's choice) and practice logs (the graduate's own)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Conflict, Invalid, NotFound
from api.graduates.models import Graduate
from api.plans.models import PlanSkill, SkillPractice
from api.plans.recurrence import local_day_bounds
from api.plans.versioning import care_team_edit, care_team_graduate, editable_plan, record_change
from api.reminders import completion as reminders
from api.timeline import local_today

PRACTICE_BACKDATE_LIMIT = timedelta(days=7)


class SkillCatalogue(Protocol):
    """What the plan needs from the content library: a program's visible skills."""

    def skill_title(
        self, *, session: Session, program_id: uuid.UUID, skill_id: str
    ) -> str | None: ...

    def skill_titles(self, *, session: Session, program_id: uuid.UUID) -> dict[str, str]: ...


def for_plan(
    *, session: Session, graduate: Graduate, catalogue: SkillCatalogue
) -> list[dict[str, Any]]:
    rows = list(
        session.scalars(
            select(PlanSkill)
            .where(PlanSkill.graduate_id == graduate.id)
            .order_by(PlanSkill.created_at, PlanSkill.skill_id)
        )
    )
    titles = catalogue.skill_titles(session=session, program_id=graduate.program_id) if rows else {}
    return [
        {
            # A skill the program hid after it was planned keeps its id as a title.
            "skill_id": row.skill_id,
            "title": titles.get(row.skill_id, row.skill_id),
            "target_per_week": row.target_per_week,
        }
        for row in rows
    ]


def add(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    skill_id: str,
    target_per_week: int,
    catalogue: SkillCatalogue,
    expected_version: int | None,
    now: datetime,
) -> dict[str, Any]:
    graduate = care_team_graduate(session, actor, graduate_id, "plan.skills.add", now)
    title = catalogue.skill_title(
        session=session, program_id=graduate.program_id, skill_id=skill_id
    )
    if title is None:
        raise Invalid(
            "Unknown skill.", errors={"skill_id": [f"no skill {skill_id!r} in the library"]}
        )
    plan = editable_plan(
        session=session, graduate_id=graduate_id, expected_version=expected_version, now=now
    )
    exists = session.scalar(
        select(PlanSkill.id).where(
            PlanSkill.graduate_id == graduate_id, PlanSkill.skill_id == skill_id
        )
    )
    if exists is not None:
        raise Conflict(f"{skill_id} is already in the plan; change its target instead.")
    session.add(
        PlanSkill(
            graduate_id=graduate_id,
            skill_id=skill_id,
            target_per_week=target_per_week,
            created_at=now,
        )
    )
    after = {"skill_id": skill_id, "target_per_week": target_per_week}
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="skills",
        action="added",
        after=after,
        now=now,
    )
    return {**after, "title": title}


def set_target(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    skill_id: str,
    target_per_week: int,
    catalogue: SkillCatalogue,
    expected_version: int | None,
    now: datetime,
) -> dict[str, Any]:
    graduate, plan = care_team_edit(
        session, actor, graduate_id, "plan.skills.update", expected_version, now
    )
    row = _plan_skill(session, graduate_id, skill_id)
    before = {"skill_id": skill_id, "target_per_week": row.target_per_week}
    row.target_per_week = target_per_week
    after = {"skill_id": skill_id, "target_per_week": target_per_week}
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="skills",
        action="updated",
        before=before,
        after=after,
        now=now,
    )
    title = catalogue.skill_title(
        session=session, program_id=graduate.program_id, skill_id=skill_id
    )
    return {**after, "title": title}


def remove(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    skill_id: str,
    expected_version: int | None,
    now: datetime,
) -> None:
    _, plan = care_team_edit(
        session, actor, graduate_id, "plan.skills.remove", expected_version, now
    )
    row = _plan_skill(session, graduate_id, skill_id)
    session.delete(row)
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="skills",
        action="removed",
        before={"skill_id": skill_id, "target_per_week": row.target_per_week},
        now=now,
    )


def log_practice(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    skill_id: str,
    done: bool,
    helpfulness: int | None,
    practiced_at: datetime | None,
    now: datetime,
) -> SkillPractice:
    """The graduate logs practice of a skill in their plan, now or up to 7 days back."""
    graduate = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="skills.practice",
        now=now,
    ).graduate
    _plan_skill(session, graduate_id, skill_id)
    practiced_at = practiced_at or now
    if not now - PRACTICE_BACKDATE_LIMIT <= practiced_at <= now + timedelta(minutes=5):
        raise Invalid(
            "Practice time out of range.",
            errors={"practiced_at": ["between 7 days ago and now"]},
        )
    entry = SkillPractice(
        graduate_id=graduate_id,
        skill_id=skill_id,
        practiced_at=practiced_at,
        done=done,
        helpfulness=helpfulness,
    )
    session.add(entry)
    session.flush()
    if done:
        reminders.skill_practised(session=session, graduate=graduate, practiced_at=practiced_at)
    return entry


def due_today(
    *, session: Session, graduate: Graduate, catalogue: SkillCatalogue, now: datetime
) -> list[dict[str, Any]]:
    """Skills still short of this week's target (Monday to Sunday, local) and not done today."""
    today = local_today(graduate.timezone, now)
    week_start = today - timedelta(days=today.weekday())
    since, _ = local_day_bounds(
        datetime.combine(week_start, datetime.min.time()), graduate.timezone
    )
    today_start, _ = local_day_bounds(
        datetime.combine(today, datetime.min.time()), graduate.timezone
    )
    done = dict(
        session.execute(
            select(SkillPractice.skill_id, func.count())
            .where(
                SkillPractice.graduate_id == graduate.id,
                SkillPractice.done.is_(True),
                SkillPractice.practiced_at >= since,
            )
            .group_by(SkillPractice.skill_id)
        ).all()
    )
    done_today = set(
        session.scalars(
            select(SkillPractice.skill_id).where(
                SkillPractice.graduate_id == graduate.id,
                SkillPractice.done.is_(True),
                SkillPractice.practiced_at >= today_start,
            )
        )
    )
    due = []
    for item in for_plan(session=session, graduate=graduate, catalogue=catalogue):
        count = done.get(item["skill_id"], 0)
        if count < item["target_per_week"] and item["skill_id"] not in done_today:
            due.append({**item, "done_this_week": count})
    return due


def _plan_skill(session: Session, graduate_id: uuid.UUID, skill_id: str) -> PlanSkill:
    row = session.scalar(
        select(PlanSkill).where(
            PlanSkill.graduate_id == graduate_id, PlanSkill.skill_id == skill_id
        )
    )
    if row is None:
        raise NotFound(f"{skill_id} is not in this plan.")
    return row


def practice_since(
    *, session: Session, graduate_id: uuid.UUID, since: datetime
) -> list[SkillPractice]:
    """The graduate's practice logs since `since`, newest first, for a caller the plan's
    access check has already let in (the console's graduate page)."""
    return list(
        session.scalars(
            select(SkillPractice)
            .where(SkillPractice.graduate_id == graduate_id, SkillPractice.practiced_at >= since)
            .order_by(SkillPractice.practiced_at.desc())
        )
    )
