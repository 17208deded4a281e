"""Staff register graduates; a single-use, hashed, expiring code links the graduate's phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from api.audit.models import AuditEvent
from api.graduates.models import CareTeamMember, EnrollmentCode, Graduate
from api.programs.models import Membership
from tests import factories

CODE_FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def graduate_body(**changes: Any) -> dict[str, Any]:
    body = {
        "display_name": "Robin",
        "graduation_date": "2026-11-20",
        "timezone": "America/Chicago",
        "substance_use": False,
        "baseline": {"phq9": 7, "gad7": 6},
        "therapist_email": None,
    }
    body.update(changes)
    return body


def register(staff, program_id, **changes: Any) -> dict[str, Any]:
    response = staff.post(f"/api/v1/programs/{program_id}/graduates", json=graduate_body(**changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def redeem(caller, code: str):
    return caller.post("/api/v1/enrollments", json={"code": code})


def assert_error(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    return body


@pytest.fixture
def staff(as_user, world):
    return as_user(world.email("staff"))


def test_staff_registers_a_graduate_and_gets_a_code(staff, world):
    created = register(staff, world.program.id)
    assert {"id", "enrollment_code"} <= set(created)
    assert CODE_FORMAT.match(created["enrollment_code"])
    record = staff.get(f"/api/v1/graduates/{created['id']}").get_json()
    assert record["program_id"] == str(world.program.id)
    assert record["enrolled"] is False
    assert record["baseline"] == {"phq9": 7, "gad7": 6}


def test_a_new_person_redeems_the_code(staff, world, as_user):
    created = register(staff, world.program.id)
    person = as_user(factories.unique_email("phone"))
    response = redeem(person, created["enrollment_code"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == created["id"]
    assert response.get_json()["enrolled"] is True
    assert person.get("/api/v1/me").get_json()["graduate_id"] == created["id"]


def test_used_wrong_and_expired_codes_get_one_message(staff, world, as_user, clock):
    used = register(staff, world.program.id)["enrollment_code"]
    assert redeem(as_user(factories.unique_email("first")), used).status_code == 200
    second = assert_error(redeem(as_user(factories.unique_email("second")), used), 422)

    wrong = assert_error(redeem(as_user(factories.unique_email("guess")), "ABCD-EFGH-JKMN"), 422)

    expiring = register(staff, world.program.id)["enrollment_code"]
    clock.advance(days=15)
    expired = assert_error(redeem(as_user(factories.unique_email("late")), expiring), 422)

    assert second["message"] == wrong["message"] == expired["message"]
    assert second.get("errors") == wrong.get("errors") == expired.get("errors")


def test_a_code_is_still_valid_before_14_days(staff, world, as_user, clock):
    code = register(staff, world.program.id)["enrollment_code"]
    clock.advance(days=13, hours=23)
    assert redeem(as_user(factories.unique_email("slow")), code).status_code == 200


def test_a_person_already_linked_gets_409_and_the_code_survives(staff, world, as_user):
    code = register(staff, world.program.id)["enrollment_code"]
    assert_error(redeem(as_user(world.graduate_email), code), 409)
    assert redeem(as_user(factories.unique_email("right")), code).status_code == 200


@pytest.mark.parametrize(
    "variant",
    [
        str.lower,
        lambda code: code.replace("-", ""),
        lambda code: code.replace("-", " "),
        lambda code: f"  {code.lower().replace('-', '')}  ",
    ],
    ids=["lowercase", "no-hyphens", "spaces", "padded-lowercase"],
)
def test_hand_typed_variants_of_a_valid_code_work(staff, world, as_user, variant):
    created = register(staff, world.program.id)
    typed = variant(created["enrollment_code"])
    response = redeem(as_user(factories.unique_email("typist")), typed)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == created["id"]


def test_reissue_makes_the_old_code_fail(staff, world, as_user):
    created = register(staff, world.program.id)
    response = staff.post(f"/api/v1/graduates/{created['id']}/enrollment-code")
    assert response.status_code == 201, response.get_json()
    new_code = response.get_json()["enrollment_code"]
    assert CODE_FORMAT.match(new_code) and new_code != created["enrollment_code"]

    assert_error(redeem(as_user(factories.unique_email("old")), created["enrollment_code"]), 422)
    linked = redeem(as_user(factories.unique_email("new")), new_code)
    assert linked.status_code == 200
    assert linked.get_json()["id"] == created["id"]


def test_codes_are_stored_hashed(staff, world, db):
    codes = [register(staff, world.program.id)["enrollment_code"] for _ in range(2)]
    reissued = staff.post(f"/api/v1/graduates/{world.graduate.id}/enrollment-code")
    codes.append(reissued.get_json()["enrollment_code"])
    rows = db.scalars(select(EnrollmentCode)).all()
    assert len(rows) >= 3
    forms = {form for code in codes for form in (code, code.replace("-", ""), code.lower())}
    for row in rows:
        stored = " ".join(str(getattr(row, c.key)) for c in EnrollmentCode.__table__.columns)
        assert not any(form in stored for form in forms), stored
        assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)


def test_ten_failed_redemptions_then_429(world, as_user, staff):
    good = register(staff, world.program.id)["enrollment_code"]
    guesser = as_user(factories.unique_email("guesser"))
    for attempt in range(10):
        code = f"AAAA-BBBB-{attempt:04d}"
        assert redeem(guesser, code).status_code == 422, attempt
    assert_error(redeem(guesser, "AAAA-BBBB-CCCC"), 429)
    # Locked out: even a valid code waits.
    assert_error(redeem(guesser, good), 429)


def test_successful_redemptions_do_not_count_towards_the_limit(world, as_user, staff):
    for _ in range(11):
        code = register(staff, world.program.id)["enrollment_code"]
        assert redeem(as_user(factories.unique_email("ok")), code).status_code == 200


def test_the_rate_limit_is_per_person(world, as_user, staff):
    good = register(staff, world.program.id)["enrollment_code"]
    guesser = as_user(factories.unique_email("guesser"))
    for attempt in range(10):
        assert redeem(guesser, f"AAAA-BBBB-{attempt:04d}").status_code == 422
    assert redeem(guesser, "AAAA-BBBB-CCCC").status_code == 429
    assert redeem(as_user(factories.unique_email("innocent")), good).status_code == 200


def _counts(db) -> dict[str, int]:
    return {
        model.__name__: db.scalar(select(func.count()).select_from(model))
        for model in (Graduate, EnrollmentCode, Membership, CareTeamMember, AuditEvent)
    }


def _without(*keys: str) -> dict[str, Any]:
    body = graduate_body(therapist_email="invited-therapist@example.org")
    for key in keys:
        del body[key]
    return body


BAD_REGISTRATIONS = {
    "unknown-timezone": ({"timezone": "Mars/Olympus"}, {"timezone"}),
    "two-years-ahead": ({"graduation_date": "2028-11-23"}, {"graduation_date"}),
    "six-years-back": ({"graduation_date": "2020-11-23"}, {"graduation_date"}),
    "bad-date": ({"graduation_date": "2026-02-30"}, {"graduation_date"}),
    "phq9-28": ({"baseline": {"phq9": 28, "gad7": 6}}, {"baseline"}),
    "gad7-negative": ({"baseline": {"phq9": 7, "gad7": -1}}, {"baseline"}),
    "baseline-missing-gad7": ({"baseline": {"phq9": 7}}, {"baseline"}),
    "substance-use-yes": ({"substance_use": "yes"}, {"substance_use"}),
    "substance-use-1": ({"substance_use": 1}, {"substance_use"}),
    "substance-use-null": ({"substance_use": None}, {"substance_use"}),
    "empty-name": ({"display_name": ""}, {"display_name"}),
    "bad-therapist-email": ({"therapist_email": "not an email"}, {"therapist_email"}),
    "unknown-field": ({"nickname": "Rob"}, {"nickname"}),
}


@pytest.mark.parametrize(
    ("changes", "fields"), BAD_REGISTRATIONS.values(), ids=BAD_REGISTRATIONS.keys()
)
def test_bad_registration_writes_nothing(staff, world, db, changes, fields):
    before = _counts(db)
    body = {**graduate_body(therapist_email="invited-therapist@example.org"), **changes}
    response = staff.post(f"/api/v1/programs/{world.program.id}/graduates", json=body)
    error = assert_error(response, 422)
    assert set(error["errors"]) == fields
    assert _counts(db) == before


@pytest.mark.parametrize(
    "missing",
    [
        ("display_name",),
        ("graduation_date",),
        ("timezone",),
        ("substance_use",),
        ("baseline",),
        ("display_name", "baseline"),
    ],
    ids="+".join,
)
def test_registration_with_missing_fields_writes_nothing(staff, world, db, missing):
    before = _counts(db)
    response = staff.post(f"/api/v1/programs/{world.program.id}/graduates", json=_without(*missing))
    error = assert_error(response, 422)
    assert set(error["errors"]) == set(missing)
    assert _counts(db) == before


@pytest.mark.parametrize("graduation_date", ["2021-11-23", "2027-11-23"])
def test_graduation_date_window_edges_are_accepted(staff, world, graduation_date):
    register(staff, world.program.id, graduation_date=graduation_date)


@pytest.mark.parametrize("graduation_date", ["2021-11-22", "2027-11-24"])
def test_graduation_date_one_day_outside_the_window_is_refused(staff, world, db, graduation_date):
    before = _counts(db)
    body = graduate_body(graduation_date=graduation_date)
    response = staff.post(f"/api/v1/programs/{world.program.id}/graduates", json=body)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == {"graduation_date"}
    assert _counts(db) == before


def test_therapist_email_not_yet_a_member_is_invited(staff, world, as_user):
    email = factories.unique_email("invited-therapist")
    created = register(staff, world.program.id, therapist_email=email)

    team = staff.get(f"/api/v1/graduates/{created['id']}/care-team")
    assert team.status_code == 200
    [member] = team.get_json()
    assert member["email"] == email
    assert member["role"] == "therapist"
    assert member["user_id"] is None

    members = staff.get(f"/api/v1/programs/{world.program.id}/members?role=therapist").get_json()
    assert email in {m["email"] for m in members}

    me = as_user(email).get("/api/v1/me").get_json()
    assert {"program_id": str(world.program.id), "role": "therapist"} in me["memberships"]
    [member] = staff.get(f"/api/v1/graduates/{created['id']}/care-team").get_json()
    assert member["user_id"] == me["id"]

    caseload = as_user(email).get(f"/api/v1/programs/{world.program.id}/graduates").get_json()
    assert [g["id"] for g in caseload] == [created["id"]]


def test_therapist_email_of_an_existing_therapist_reuses_their_membership(staff, world, db):
    before = _counts(db)["Membership"]
    created = register(staff, world.program.id, therapist_email=world.therapist_consent.email)
    [member] = staff.get(f"/api/v1/graduates/{created['id']}/care-team").get_json()
    assert member["user_id"] == str(world.therapist_consent.user_id)
    assert _counts(db)["Membership"] == before
