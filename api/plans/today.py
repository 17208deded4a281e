"""GET …/today: everything the phone shows on opening, in one call, in the graduate's zone."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, time
from typing import Any, Protocol

from sqlalchemy.orm import Session

from api import access, timeline
from api.auth import Actor
from api.checkins import schedule
from api.content.loader import Card
from api.plans import appointments, skills
from api.plans.recurrence import local_day_bounds


class Content(skills.SkillCatalogue, Protocol):
    def card_for_phase(
        self, *, session: Session, program_id: uuid.UUID, phase: str
    ) -> Card | None: ...


def today(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, content: Content, now: datetime
) -> dict[str, Any]:
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.PROFILE,
        action="plan.today.read",
        now=now,
    )
    graduate = found.graduate
    day = timeline.local_today(graduate.timezone, now)
    days = (day - graduate.graduation_date).days
    phase = timeline.phase_for(days)
    start, end = local_day_bounds(datetime.combine(day, time()), graduate.timezone)
    return {
        "date": day,
        "timezone": graduate.timezone,
        "days_since_graduation": days,
        "phase": phase,
        "phase_card": content.card_for_phase(
            session=session, program_id=graduate.program_id, phase=phase
        ),
        "appointments": appointments.occurrences_for(
            session=session, graduate=graduate, start=start, end=end
        ),
        "skills_due": skills.due_today(
            session=session, graduate=graduate, catalogue=content, now=now
        ),
        # Check-in data follows the check-in consent whatever the route; the BAM and what
        # substance-use flags changed, the Part 2 consent.
        "check_ins_due": schedule.due(
            session=session, graduate=graduate, now=now, part2=found.sees_substance_use
        )
        if found.sees_clinical
        else None,
        "safety_plan_url": f"/api/v1/graduates/{graduate.id}/plan#safety_plan",
    }


def etag_of(body: dict[str, Any]) -> str:
    """A strong ETag over the serialized body, so an unchanged day answers 304."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'
