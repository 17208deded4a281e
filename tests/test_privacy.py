"""The graduate's own data: a complete copy, deletion after a grace period that erases
personal data and keeps only the de-identified clinical record, and retention settings."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.audit.models import AuditEvent
from api.checkins.models import CheckIn
from api.db import Base
from api.flags.models import Flag
from api.graduates import enrollment
from api.graduates.models import Consent, EnrollmentCode, Graduate
from api.notifications.models import Device, Notification
from api.notifications.service import Planned, enqueue
from api.privacy import service as privacy
from api.reminders import planner
from api.users.models import User
from tests import factories

DAILY = {"daily-mood": 6, "phq2-1": 1, "phq2-2": 0, "gad2-1": 0, "gad2-2": 1}
DEVICE_TOKEN = "fcm-registration-token-abcdef123456"


def _check_in(caller, world, clock) -> dict:
    response = caller.post(
        f"/api/v1/graduates/{world.graduate.id}/check-ins",
        json={"questionnaire": "daily", "answers": DAILY, "answered_at": clock.now().isoformat()},
    )
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def graduate(world, as_user, clock, db):
    """The world's graduate with a check-in, a phone and planned reminders."""
    caller = as_user(world.email("graduate"))
    _check_in(caller, world, clock)
    device = caller.post("/api/v1/devices", json={"token": DEVICE_TOKEN, "platform": "android"})
    assert device.status_code in (200, 201), device.json
    planner.plan(db, now=clock.now(), horizon=timedelta(days=2))
    return caller


def test_the_export_holds_everything_about_them_and_no_secrets(graduate, world, db):
    response = graduate.get("/api/v1/me/export")
    assert response.status_code == 200, response.json
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.json
    records = body["records"]
    assert records["graduates"][0]["id"] == str(world.graduate.id)
    assert records["check_ins"][0]["answers"] == DAILY
    assert records["notifications"] and records["consents"]
    assert records["devices"][0]["token_ends_with"] == DEVICE_TOKEN[-6:]
    assert body["person"]["email"] == world.graduate_email
    assert body["fhir"]["resourceType"] == "Bundle"
    text = json.dumps(body)
    assert DEVICE_TOKEN not in text and "token_hash" not in text and "code_hash" not in text
    assert "flags" not in records and {"flags", "summaries"} <= {
        item["table"] for item in body["not_included"]
    }
    audited = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "graduate.export", AuditEvent.graduate_id == world.graduate.id)
    )
    assert audited == 1


def test_every_table_holding_a_graduate_s_rows_is_exported_or_says_why_not():
    exported = {table.name for table in privacy.exported_tables()}
    holding = {
        table.name
        for table in Base.metadata.sorted_tables
        if "graduate_id" in table.c or table.name == "graduates"
    }
    assert holding <= exported | set(privacy.NOT_EXPORTED)
    assert not exported & set(privacy.NOT_EXPORTED)


def test_deletion_is_scheduled_after_the_program_s_grace_and_can_be_cancelled(
    world, as_user, clock
):
    caller = as_user(world.email("graduate"))
    assert caller.get("/api/v1/me/deletion").json["status"] == "none"
    asked = caller.post("/api/v1/me/deletion")
    assert asked.status_code == 202
    assert asked.json["erase_after"] == (clock.now() + timedelta(days=30)).isoformat()
    clock.advance(days=1)
    caller = as_user(world.email("graduate"))  # a fresh token for the new day
    again = caller.post("/api/v1/me/deletion")
    assert again.json["erase_after"] == asked.json["erase_after"]  # asking twice: no change
    assert caller.delete("/api/v1/me/deletion").status_code == 204
    assert caller.get("/api/v1/me/deletion").json == {
        "status": "none",
        "requested_at": None,
        "erase_after": None,
    }
    staff = as_user(world.email("staff"))
    path = f"/api/v1/programs/{world.program.id}/retention"
    changed = staff.put(
        path,
        json={"deletion_grace_days": 14, "inbox_retention_days": 90, "clinical_retention_years": 8},
    )
    assert changed.status_code == 200, changed.json
    rescheduled = caller.post("/api/v1/me/deletion")
    assert rescheduled.json["erase_after"] == (clock.now() + timedelta(days=14)).isoformat()


def test_after_the_grace_period_personal_data_is_erased_and_the_clinical_record_kept(
    graduate, world, as_user, clock, db
):
    user_id = world.graduate.user_id
    assert graduate.post("/api/v1/me/deletion").status_code == 202
    assert graduate.get("/api/v1/me").json["graduate_id"] == str(world.graduate.id)  # still works
    assert privacy.erase_due(session=db, now=clock.now() + timedelta(days=29)) == 0

    clock.advance(days=31)
    assert privacy.erase_due(session=db, now=clock.now()) == 1
    assert privacy.erase_due(session=db, now=clock.now()) == 0  # idempotent
    db.expire_all()
    record = db.get(Graduate, world.graduate.id)
    assert record.display_name == "Erased" and record.user_id is None and record.erased_at
    person = db.get(User, user_id)
    assert world.graduate_email not in person.email
    for model, where in (
        (Device, Device.user_id == user_id),
        (Notification, Notification.user_id == user_id),
        (Consent, Consent.graduate_id == world.graduate.id),
    ):
        assert db.scalar(select(func.count()).select_from(model).where(where)) == 0
    kept = db.scalar(
        select(func.count()).select_from(CheckIn).where(CheckIn.graduate_id == world.graduate.id)
    )
    assert kept == 1  # de-identified, the program's clinical record
    actions = set(
        db.scalars(select(AuditEvent.action).where(AuditEvent.graduate_id == world.graduate.id))
    )
    assert {"graduate.deletion_requested", "graduate.erased"} <= actions

    # The same Firebase account signing in again is a new person with no record.
    again = as_user(world.graduate_email).get("/api/v1/me")
    assert again.status_code == 200 and again.json["graduate_id"] is None
    assert again.json["id"] != str(user_id)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"deletion_grace_days": 3}, "deletion_grace_days"),
        ({"inbox_retention_days": 5000}, "inbox_retention_days"),
        ({"clinical_retention_years": 1}, "clinical_retention_years"),
    ],
)
def test_retention_outside_its_bounds_is_refused_and_nothing_changes(
    world, as_user, changes, field
):
    staff = as_user(world.email("staff"))
    path = f"/api/v1/programs/{world.program.id}/retention"
    before = staff.get(path).json
    body = {**before, **changes}
    refused = staff.put(path, json=body)
    assert refused.status_code == 422 and field in refused.json["errors"]
    assert staff.get(path).json == before
    partial = dict(before)
    partial.pop(field)
    assert staff.put(path, json=partial).status_code == 422


def test_the_retention_job_empties_old_inboxes_and_purges_long_erased_records(
    graduate, world, clock, db
):
    old = clock.now() - timedelta(days=230)  # April: the whole month is past 180 days
    enqueue(
        db,
        items=[
            Planned(
                world.graduate.user_id, "skill_practice", "old", old, graduate_id=world.graduate.id
            )
        ],
        now=old,
    )
    db.execute(
        Notification.__table__.update()
        .where(Notification.subject == "old")
        .values(status="sent", sent_at=old)
    )
    pending_before = db.scalar(
        select(func.count()).select_from(Notification).where(Notification.status == "pending")
    )
    privacy.apply_retention(session=db, now=clock.now())
    assert db.scalar(select(func.count()).where(Notification.subject == "old")) == 0
    pending_after = db.scalar(
        select(func.count()).select_from(Notification).where(Notification.status == "pending")
    )
    assert pending_after == pending_before

    graduate.post("/api/v1/me/deletion")
    privacy.erase_due(session=db, now=clock.now() + timedelta(days=31))
    privacy.apply_retention(session=db, now=clock.now() + timedelta(days=365 * 6))
    kept = select(func.count()).select_from(CheckIn).where(CheckIn.graduate_id == world.graduate.id)
    assert db.scalar(kept) == 1  # within the program's 7 years
    privacy.apply_retention(session=db, now=clock.now() + timedelta(days=365 * 8))
    assert db.scalar(kept) == 0


# --- an erased record stays without a login ------------------------------------------


def _erase(world, as_user, clock, db) -> None:
    """The world's graduate asks for deletion and the grace period runs out."""
    assert as_user(world.email("graduate")).post("/api/v1/me/deletion").status_code == 202
    clock.advance(days=31)
    assert privacy.erase_due(session=db, now=clock.now()) == 1
    db.expire_all()


def test_staff_cannot_issue_an_enrollment_code_for_an_erased_record(world, as_user, clock, db):
    _erase(world, as_user, clock, db)
    staff = as_user(world.email("staff"))
    refused = staff.post(f"/api/v1/graduates/{world.graduate.id}/enrollment-code")
    assert refused.status_code == 409, refused.json
    assert refused.json["code"] == 409 and "erased" in refused.json["message"]
    codes = select(func.count()).where(EnrollmentCode.graduate_id == world.graduate.id)
    assert db.scalar(codes) == 0


def test_a_code_left_for_an_erased_record_cannot_be_redeemed(world, as_user, clock, db):
    _erase(world, as_user, clock, db)
    # A code issued while the erasure job ran (it deletes the codes it can see).
    code = enrollment.issue(session=db, graduate_id=world.graduate.id, now=clock.now())
    db.commit()
    person = as_user(factories.unique_email("finder"))
    refused = person.post("/api/v1/enrollments", json={"code": code})
    assert refused.status_code == 422, refused.json
    assert refused.json["message"] == enrollment.WRONG_CODE
    assert person.get("/api/v1/me").json["graduate_id"] is None
    db.expire_all()
    assert db.get(Graduate, world.graduate.id).user_id is None


# --- who used the record, without saying that flags exist ----------------------------


def _open_flag(world, clock, db) -> Flag:
    flag = Flag(
        graduate_id=world.graduate.id,
        program_id=world.program.id,
        kind="watch",
        source="mood",
        status="open",
        rule="phq9_rise",
        rules_version="test",
        explanation="PHQ-9 rose.",
        evidence=[],
        details={},
        raised_at=clock.now(),
        updated_at=clock.now(),
    )
    db.add(flag)
    db.commit()
    return flag


def test_the_export_says_who_used_the_record_and_when_but_not_that_flags_exist(
    world, as_user, clock, db
):
    record = f"/api/v1/graduates/{world.graduate.id}"
    assert as_user(world.email("staff")).get(record).status_code == 200
    assert as_user(world.email("therapist_consent")).get(f"{record}/check-ins").status_code == 200
    before = as_user(world.email("graduate")).get("/api/v1/me/export").json

    # The same evening in Chicago (02:00 UTC the next day) a flag opens and is worked on.
    clock.advance(hours=11)
    flag = _open_flag(world, clock, db)
    listed = as_user(world.email("staff")).get(f"/api/v1/flags?graduate_id={world.graduate.id}")
    assert [item["id"] for item in listed.json] == [str(flag.id)]
    therapist = as_user(world.email("therapist_consent"))
    assert therapist.post(f"/api/v1/flags/{flag.id}/acknowledge", json={}).status_code == 200
    after = as_user(world.email("graduate")).get("/api/v1/me/export").json

    assert (
        after["record_access"]
        == before["record_access"]
        == [
            {"date": "2026-11-23", "who": "you", "what": "downloaded a copy of your data"},
            {"date": "2026-11-23", "who": "your care team", "what": "viewed your record"},
        ]
    )
    assert "audit_events" not in after["records"]
    text = json.dumps(after)
    for trace in ("flag.", "/flags", str(flag.id), "acknowledge", str(world.staff.user_id)):
        assert trace not in text


def test_the_export_holds_what_was_sent_to_them_not_what_staff_were_sent_about_them(
    graduate, world, clock, db
):
    enqueue(
        db,
        items=[
            Planned(
                world.staff.user_id,
                "escalation",
                "flag:x",
                clock.now(),
                graduate_id=world.graduate.id,
            ),
            Planned(world.graduate.user_id, "group_announcement", "announcement:x", clock.now()),
        ],
        now=clock.now(),
    )
    db.commit()
    records = graduate.get("/api/v1/me/export").json["records"]
    kinds = {item["kind"] for item in records["notifications"]}
    assert "group_announcement" in kinds and "escalation" not in kinds
