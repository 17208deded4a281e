"""Consent takes effect at once; staff see an append-only audit trail; logs stay clean."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from api.audit.models import AuditEvent
from api.graduates.models import Graduate
from api.logs import JsonFormatter
from tests import factories

SHARE_CHECK_INS = {"share_check_ins": True, "share_substance_use": False}


def consent_url(graduate_id, therapist_user_id) -> str:
    return f"/api/v1/graduates/{graduate_id}/consents/{therapist_user_id}"


def audit_events(staff, program_id, **query: str) -> list[dict]:
    params = "&".join(f"{k}={v}" for k, v in {"page_size": "100", **query}.items())
    response = staff.get(f"/api/v1/programs/{program_id}/audit-events?{params}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_consent_grants_then_withdrawal_takes_effect_at_once(world, as_user):
    gid, therapist = world.graduate.id, world.therapist_no_consent
    graduate, reader = as_user(world.graduate_email), as_user(therapist.email)
    record = f"/api/v1/graduates/{gid}"

    before = reader.get(record).get_json()
    assert before["baseline"] is None and before["substance_use"] is None

    granted = graduate.put(consent_url(gid, therapist.user_id), json=SHARE_CHECK_INS)
    assert granted.status_code == 200, granted.get_json()
    body = granted.get_json()
    assert body["graduate_id"] == str(gid)
    assert body["therapist_user_id"] == str(therapist.user_id)
    assert body["share_check_ins"] is True and body["share_substance_use"] is False

    shared = reader.get(record).get_json()
    assert shared["baseline"] == {"phq9": 6, "gad7": 5}
    assert shared["substance_use"] is None

    withdrawn = graduate.delete(consent_url(gid, therapist.user_id))
    assert withdrawn.status_code == 204
    assert withdrawn.get_data() == b""
    after = reader.get(record).get_json()
    assert after["baseline"] is None and after["substance_use"] is None


def test_substance_use_needs_the_consent_that_names_it(world, as_user):
    gid, therapist = world.graduate.id, world.therapist_no_consent
    graduate, reader = as_user(world.graduate_email), as_user(therapist.email)
    both = {"share_check_ins": True, "share_substance_use": True}
    assert graduate.put(consent_url(gid, therapist.user_id), json=both).status_code == 200
    assert reader.get(f"/api/v1/graduates/{gid}").get_json()["substance_use"] is False

    narrowed = graduate.put(consent_url(gid, therapist.user_id), json=SHARE_CHECK_INS)
    assert narrowed.status_code == 200
    record = reader.get(f"/api/v1/graduates/{gid}").get_json()
    assert record["substance_use"] is None and record["baseline"] is not None
    listed = graduate.get(f"/api/v1/graduates/{gid}/consents").get_json()
    mine = [c for c in listed if c["therapist_user_id"] == str(therapist.user_id)]
    assert len(mine) == 1 and mine[0]["share_substance_use"] is False


def test_part2_consent_alone_reaches_nothing(world, db, as_user, clock):
    """BAM answers are check-ins: the Part 2 consent adds to the check-in consent, never
    stands in for it, in a single read and in the flag list alike."""
    gid, therapist = world.graduate.id, world.therapist_no_consent
    db.get(Graduate, gid).substance_use = True
    db.commit()
    graduate, reader = as_user(world.graduate_email), as_user(therapist.email)
    only_part2 = {"share_check_ins": False, "share_substance_use": True}
    assert graduate.put(consent_url(gid, therapist.user_id), json=only_part2).status_code == 200
    bam = {f"bam-{i}": 0 for i in range(1, 18)} | {"bam-4": 2}
    submitted = graduate.post(
        f"/api/v1/graduates/{gid}/check-ins",
        json={"questionnaire": "bam", "answers": bam, "answered_at": clock.now().isoformat()},
    )
    assert submitted.status_code == 201, submitted.get_json()
    staff_flags = as_user(world.staff.email).get(f"/api/v1/flags?graduate_id={gid}").get_json()
    assert [f["source"] for f in staff_flags] == ["substance_use"]

    assert reader.get(f"/api/v1/graduates/{gid}").get_json()["substance_use"] is None
    check_in = reader.get(f"/api/v1/graduates/{gid}/check-ins/{submitted.get_json()['id']}")
    assert check_in.status_code in (403, 404)
    assert reader.get(f"/api/v1/graduates/{gid}/trends?instrument=bam").status_code == 403
    assert reader.get(f"/api/v1/flags?graduate_id={gid}").get_json() == []


def test_withdrawing_a_consent_that_does_not_exist_is_204(world, as_user):
    graduate = as_user(world.graduate_email)
    gid = world.graduate.id
    assert graduate.delete(consent_url(gid, world.therapist_no_consent.user_id)).status_code == 204
    assert graduate.delete(consent_url(gid, uuid.uuid4())).status_code == 204
    # Twice in a row, too.
    assert graduate.delete(consent_url(gid, world.therapist_consent.user_id)).status_code == 204
    assert graduate.delete(consent_url(gid, world.therapist_consent.user_id)).status_code == 204


@pytest.mark.parametrize("who", ["therapist_unlinked", "staff", "coordinator"])
def test_consent_for_someone_not_a_care_team_therapist_is_422(world, as_user, who):
    target = getattr(world, who).user_id
    response = as_user(world.graduate_email).put(
        consent_url(world.graduate.id, target), json=SHARE_CHECK_INS
    )
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == {"therapist_user_id"}


def test_consent_for_a_care_team_therapist_who_never_signed_in_is_422(world, as_user):
    gid = world.graduate.id
    staff, graduate = as_user(world.email("staff")), as_user(world.graduate_email)
    email = factories.unique_email("not-yet")
    added = staff.post(f"/api/v1/graduates/{gid}/care-team", json={"email": email})
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["user_id"] is None

    # The graduate sees them without a user id: there is nobody to consent to yet.
    team = graduate.get(f"/api/v1/graduates/{gid}/care-team").get_json()
    assert [m["user_id"] for m in team if m["email"] == email] == [None]
    response = graduate.put(consent_url(gid, uuid.uuid4()), json=SHARE_CHECK_INS)
    assert response.status_code == 422, response.get_json()

    therapist_id = as_user(email).get("/api/v1/me").get_json()["id"]
    granted = graduate.put(consent_url(gid, therapist_id), json=SHARE_CHECK_INS)
    assert granted.status_code == 200, granted.get_json()


def test_consent_body_must_be_two_strict_booleans(world, as_user):
    graduate = as_user(world.graduate_email)
    url = consent_url(world.graduate.id, world.therapist_no_consent.user_id)
    for body, fields in (
        ({"share_check_ins": "true", "share_substance_use": False}, {"share_check_ins"}),
        ({"share_check_ins": True}, {"share_substance_use"}),
        ({**SHARE_CHECK_INS, "share_everything": True}, {"share_everything"}),
    ):
        response = graduate.put(url, json=body)
        assert response.status_code == 422, body
        assert set(response.get_json()["errors"]) == fields


def test_staff_cannot_consent_for_the_graduate(world, as_user):
    url = consent_url(world.graduate.id, world.therapist_no_consent.user_id)
    response = as_user(world.email("staff")).put(url, json=SHARE_CHECK_INS)
    assert response.status_code == 403
    assert as_user(world.email("staff")).delete(url).status_code == 403


def test_staff_see_the_therapists_read_in_the_audit_trail(world, as_user):
    therapist = world.therapist_consent
    read = as_user(therapist.email).get(
        f"/api/v1/graduates/{world.graduate.id}", headers={"X-Request-ID": "audit-read-1"}
    )
    assert read.status_code == 200

    events = audit_events(as_user(world.email("staff")), world.program.id)
    [event] = [e for e in events if e["request_id"] == "audit-read-1"]
    assert event["actor_user_id"] == str(therapist.user_id)
    assert event["actor_role"] == "therapist"
    assert event["action"] == "graduate.read"
    assert event["outcome"] == "allowed"
    assert event["graduate_id"] == str(world.graduate.id)
    assert event["route"] == "GET /api/v1/graduates/<uuid:graduate_id>"
    assert event["occurred_at"].startswith("2026-11-23T15:00:00")
    # The trail holds who and what, never the record's content.
    assert "baseline" not in event and "display_name" not in event


def test_audit_list_filters_and_is_newest_first(world, as_user, clock):
    therapist = as_user(world.therapist_consent.email)
    therapist.get(f"/api/v1/graduates/{world.graduate.id}")
    clock.advance(minutes=5)
    therapist.get(f"/api/v1/graduates/{world.graduate.id}")
    staff = as_user(world.email("staff"))
    staff.get(f"/api/v1/graduates/{world.other_graduate.id}")

    reads = audit_events(
        staff, world.program.id, graduate_id=str(world.graduate.id), action="graduate.read"
    )
    assert len(reads) == 2
    assert reads[0]["occurred_at"] > reads[1]["occurred_at"]
    others = audit_events(staff, world.program.id, graduate_id=str(world.other_graduate.id))
    assert [(e["actor_role"], e["action"]) for e in others] == [("staff", "graduate.read")]


def test_a_denied_access_is_audited(world, as_user):
    """A care-team therapist who is also a graduate (of another program) passes the role check
    on PUT consents, then api.access refuses: the one audited denial path in this foundation."""
    therapist = world.therapist_no_consent
    caller = as_user(therapist.email)
    elsewhere = as_user(world.email("other_staff")).post(
        f"/api/v1/programs/{world.other_program.id}/graduates",
        json={
            "display_name": "Alex",
            "graduation_date": "2026-10-01",
            "timezone": "America/New_York",
            "substance_use": False,
            "baseline": {"phq9": 4, "gad7": 3},
            "therapist_email": None,
        },
    )
    assert elsewhere.status_code == 201
    code = elsewhere.get_json()["enrollment_code"]
    assert caller.post("/api/v1/enrollments", json={"code": code}).status_code == 200

    denied = caller.put(
        consent_url(world.graduate.id, therapist.user_id),
        json={"share_check_ins": True, "share_substance_use": True},
        headers={"X-Request-ID": "audit-denied-1"},
    )
    assert denied.status_code == 403, denied.get_json()

    events = audit_events(as_user(world.email("staff")), world.program.id)
    [event] = [e for e in events if e["request_id"] == "audit-denied-1"]
    assert event["outcome"] == "denied"
    assert event["action"] == "consent.grant"
    assert event["actor_role"] == "therapist"
    assert event["actor_user_id"] == str(therapist.user_id)
    assert event["graduate_id"] == str(world.graduate.id)
    # Nothing else from the refused request was kept.
    listed = as_user(world.graduate_email).get(f"/api/v1/graduates/{world.graduate.id}/consents")
    assert str(therapist.user_id) not in {c["therapist_user_id"] for c in listed.get_json()}


def test_role_refusals_are_not_graduate_record_accesses(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    response = coordinator.get(
        f"/api/v1/graduates/{world.graduate.id}", headers={"X-Request-ID": "coord-1"}
    )
    assert response.status_code == 403
    events = audit_events(as_user(world.email("staff")), world.program.id)
    assert not [e for e in events if e["request_id"] == "coord-1"]


def test_audit_events_are_append_only(world, as_user, db):
    as_user(world.therapist_consent.email).get(f"/api/v1/graduates/{world.graduate.id}")
    count = db.scalar(select(func.count()).select_from(AuditEvent))
    assert count >= 1
    with pytest.raises(DBAPIError), db.begin_nested():
        db.execute(text("UPDATE audit_events SET outcome = 'x'"))
    with pytest.raises(DBAPIError), db.begin_nested():
        db.execute(text("DELETE FROM audit_events"))
    # The session still works and nothing changed.
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == count
    assert db.scalar(select(func.count()).where(AuditEvent.outcome == "x")) == 0
    events = audit_events(as_user(world.email("staff")), world.program.id)
    assert {e["outcome"] for e in events} == {"allowed"}


def test_staff_of_another_program_cannot_list_its_audit_trail(world, as_user):
    response = as_user(world.email("other_staff")).get(
        f"/api/v1/programs/{world.program.id}/audit-events"
    )
    assert response.status_code == 404
    assert set(response.get_json()) >= {"code", "status", "message"}


def test_logs_hold_neither_tokens_nor_emails(world, as_user, client, caplog):
    caplog.set_level(logging.INFO)
    invitee = factories.unique_email("log-invitee")
    graduate = as_user(world.graduate_email)
    staff = as_user(world.email("staff"))
    bad_token = "eyJhbGciOiJub25lIn0.bm90LWpzb24.secret-looking-signature"

    graduate.get("/api/v1/me")
    graduate.get(f"/api/v1/graduates/{world.graduate.id}")
    graduate.put(consent_url(world.graduate.id, world.therapist_no_consent.user_id), json={})
    graduate.post("/api/v1/enrollments", json={"code": "NOPE-NOPE-NOPE"})
    staff.post(
        f"/api/v1/programs/{world.program.id}/members",
        json={"email": invitee, "role": "coordinator"},
    )
    staff.post(
        f"/api/v1/programs/{world.program.id}/members",
        json={"email": invitee, "role": "coordinator"},
    )  # 409
    as_user(invitee).get("/api/v1/me")
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {bad_token}"})

    assert caplog.records, "the access log should have recorded the requests"
    formatted = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    extras = "\n".join(repr(vars(r)) for r in caplog.records)
    secrets = [graduate.token, staff.token, bad_token, world.graduate_email, invitee]
    secrets += [world.email("staff")]
    for secret in secrets:
        for where in (caplog.text, formatted, extras):
            assert secret not in where


def test_leaving_the_care_team_ends_consent_and_access(world, as_user):
    gid, therapist = world.graduate.id, world.therapist_consent
    staff, reader = as_user(world.email("staff")), as_user(therapist.email)
    assert reader.get(f"/api/v1/graduates/{gid}").get_json()["baseline"] is not None
    team = staff.get(f"/api/v1/graduates/{gid}/care-team").get_json()
    [entry] = [m for m in team if m["user_id"] == str(therapist.user_id)]
    assert staff.delete(f"/api/v1/graduates/{gid}/care-team/{entry['id']}").status_code == 204
    assert reader.get(f"/api/v1/graduates/{gid}").status_code == 404
    consents = as_user(world.graduate_email).get(f"/api/v1/graduates/{gid}/consents").get_json()
    assert str(therapist.user_id) not in {c["therapist_user_id"] for c in consents}
