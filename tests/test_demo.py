"""`make dev`'s demo: months of history told through the real services and rules, so every
list has something to show, and the first job run raises nothing nobody caused."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from api import demo
from api.checkins.models import CheckIn
from api.flags.models import Flag
from api.graduates.models import Graduate
from api.groups.models import GroupAttendance
from api.plans.models import AppointmentReport, SkillPractice
from api.summaries.models import Summary
from api.timeline import local_today
from jobs.scheduler import run_all_once


# The demo is `make dev`'s, on SQLite; the services it calls are tested on both databases.
@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
def test_the_demo_has_months_of_history_and_flags_in_every_state(app, db, clock):
    program = demo.seed(session=db, content=app.extensions["companion"].content, now=clock.now())
    db.commit()

    graduates = db.scalars(select(Graduate).where(Graduate.program_id == program.id)).all()
    days = sorted(
        (local_today(g.timezone, clock.now()) - g.graduation_date).days for g in graduates
    )
    assert len(graduates) == 12 and days[0] <= 3 and days[-1] >= 240

    ids = [g.id for g in graduates]
    forms = Counter(
        db.scalars(select(CheckIn.questionnaire).where(CheckIn.graduate_id.in_(ids))).all()
    )
    assert forms["daily"] > 500 and forms["phq9"] > 50 and forms["gad7"] > 50 and forms["bam"] > 10
    assert db.scalar(select(func.count()).select_from(SkillPractice)) > 200
    assert set(db.scalars(select(AppointmentReport.status))) == {"attended", "missed"}
    registers = set(db.execute(select(GroupAttendance.group_id, GroupAttendance.status)))
    assert len({group for group, _ in registers}) == 2
    assert {status for _, status in registers} == {"present", "absent"}
    assert db.scalar(select(func.count()).select_from(Summary)) > 50

    states = {(f.kind, f.status, f.outcome) for f in db.scalars(select(Flag))}
    assert {
        ("urgent", "open", None),
        ("step_up", "acknowledged", None),
        ("watch", "resolved", "monitor"),
        ("disengaged", "open", None),
    } <= states

    # The first job run after a seed raises no flag: the history ends now, so nobody looks
    # inactive who was not (Chris's open disengaged flag may gain a day of evidence).
    before = {(f.id, f.kind, f.status) for f in db.scalars(select(Flag))}
    run_all_once(app)
    db.expire_all()
    assert {(f.id, f.kind, f.status) for f in db.scalars(select(Flag))} == before
