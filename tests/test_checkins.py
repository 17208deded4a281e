"""Check-ins through the API: each instrument, the safety response (even on refusal),
offline submissions, idempotency, history, consent and Part 2 gating, trends."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from api.checkins.models import CheckIn, IdempotentRequest
from api.flags.models import Flag
from api.programs.models import Role
from tests import factories
from tests.test_console import counted

PHQ9_ZERO = {f"phq9-{i}": 0 for i in range(1, 10)}
GAD7_ZERO = {f"gad7-{i}": 0 for i in range(1, 8)}
DAILY = {"daily-mood": 6, "phq2-1": 0, "phq2-2": 1, "gad2-1": 1, "gad2-2": 0}


@pytest.fixture
def people(db, as_user):
    """A graduate in substance-use care, a therapist with both consents, one with check-ins
    only, and staff."""
    program = factories.program(db)
    full = factories.member(db, program, Role.THERAPIST)
    partial = factories.member(db, program, Role.THERAPIST)
    staff = factories.member(db, program, Role.STAFF)
    email = factories.unique_email("grad")
    graduate = factories.graduate(
        db, program, email=email, therapists=(full, partial), substance_use=True, phq9=6, gad7=4
    )
    factories.consent(db, graduate, full, substance_use=True)
    factories.consent(db, graduate, partial)
    db.commit()
    base = f"/api/v1/graduates/{graduate.id}"
    return {
        "graduate": as_user(email),
        "full": as_user(full.email),
        "partial": as_user(partial.email),
        "staff": as_user(staff.email),
        "base": base,
        "id": graduate.id,
        "program": program,
        "email": email,
    }


def body(questionnaire: str, answers: dict, clock, **extra) -> dict:
    return {
        "questionnaire": questionnaire,
        "answers": answers,
        "answered_at": clock.now().isoformat(),
        **extra,
    }


def count(db) -> int:
    return db.scalar(select(func.count()).select_from(CheckIn))


def submit(people, clock, questionnaire, answers, **kwargs):
    return people["graduate"].post(
        f"{people['base']}/check-ins", json=body(questionnaire, answers, clock), **kwargs
    )


@pytest.mark.parametrize(
    ("questionnaire", "answers", "score", "band", "subscales"),
    [
        (
            "phq9",
            {**PHQ9_ZERO, "phq9-1": 3, "phq9-2": 3, "phq9-3": 3, "phq9-4": 1},
            10,
            "moderate",
            None,
        ),
        ("gad7", {**GAD7_ZERO, "gad7-1": 2, "gad7-2": 2}, 4, "minimal", None),
        ("who5", {f"who5-{i}": 3 for i in range(1, 6)}, 15, "good", None),
        ("daily", DAILY, None, None, {"phq2": 1, "gad2": 1}),
    ],
)
def test_each_instrument_is_scored(people, clock, questionnaire, answers, score, band, subscales):
    response = submit(people, clock, questionnaire, answers)
    assert response.status_code == 201, response.json
    reply = response.json
    assert (reply["questionnaire"], reply["score"], reply["band"]) == (questionnaire, score, band)
    assert reply["subscales"] == subscales
    assert reply["form_version"] == "2026.1"
    safety = reply["safety"]
    assert safety["positive"] is False and safety["message"] is None
    assert safety["safety_plan"] is None
    assert {r["phone"] for r in safety["resources"]} >= {"988", "911"}


def test_bam_reports_subscales_for_someone_in_recovery(people, clock):
    answers = {f"bam-{i}": 0 for i in range(1, 18)} | {"bam-4": 2}
    reply = submit(people, clock, "bam", answers).json
    assert (reply["score"], reply["band"]) == (None, None)
    assert reply["subscales"]["use"] == 2


def test_bam_is_refused_for_someone_not_in_substance_use_care(world, as_user, clock, db):
    before = count(db)
    answers = {f"bam-{i}": 0 for i in range(1, 18)}
    response = as_user(world.email("graduate")).post(
        f"/api/v1/graduates/{world.graduate.id}/check-ins", json=body("bam", answers, clock)
    )
    assert response.status_code == 422 and "questionnaire" in response.json["errors"]
    assert count(db) == before


def test_item_9_with_a_low_total_answers_with_the_safety_plan(people, clock):
    plan = {
        "warning_signs": ["Staying in bed"],
        "internal_coping": ["Box breathing"],
        "distractions": [],
        "distraction_places": ["The park"],
        "people_to_ask": [{"name": "Mum", "phone": "+1 555 0177"}],
        "professionals": [],
        "environment_safety": [],
    }
    assert (
        people["graduate"]
        .put(f"{people['base']}/plan/safety-plan", json={"safety_plan": plan})
        .status_code
        == 200
    )
    response = submit(people, clock, "phq9", {**PHQ9_ZERO, "phq9-9": 1})
    assert response.status_code == 201
    reply = response.json
    assert (reply["score"], reply["band"]) == (1, "minimal")
    safety = reply["safety"]
    assert safety["positive"] is True
    assert "988" in safety["message"] and "not watched live" in safety["message"]
    assert safety["safety_plan"]["people_to_ask"][0]["name"] == "Mum"
    lifeline = next(r for r in safety["resources"] if r["phone"] == "988")
    assert lifeline["text"] == "988"


def test_not_safe_right_now_in_the_daily_check_in(people, clock):
    reply = submit(people, clock, "daily", {**DAILY, "daily-safe": 0}).json
    assert reply["safety"]["positive"] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"answers": {k: v for k, v in {**PHQ9_ZERO, "phq9-9": 2}.items() if k != "phq9-3"}},
            "answers",
        ),
        ({"answers": {**PHQ9_ZERO, "phq9-9": 2, "phq9-1": 7}}, "answers"),
        ({"answers": {**PHQ9_ZERO, "phq9-9": 2, "extra-1": 1}}, "answers"),
        ({"answered_at": "2026-11-23T15:06:00+00:00"}, "answered_at"),
        ({"answered_at": "2026-11-16T14:59:00+00:00"}, "answered_at"),
        ({"answered_at": "2026-11-23T15:00:00"}, "answered_at"),
        ({"questionnaire": "phq2"}, "questionnaire"),
    ],
)
def test_a_refused_submission_still_carries_the_safety_block(people, clock, db, change, field):
    before = count(db)
    payload = {**body("phq9", {**PHQ9_ZERO, "phq9-9": 2}, clock), **change}
    response = people["graduate"].post(f"{people['base']}/check-ins", json=payload)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    safety = response.json["safety"]
    assert safety["positive"] is True and "988" in safety["message"]
    assert {r["phone"] for r in safety["resources"]} >= {"988", "911"}
    assert count(db) == before


def test_a_missing_item_is_named(people, clock):
    answers = {k: v for k, v in PHQ9_ZERO.items() if k != "phq9-4"}
    response = submit(people, clock, "phq9", answers)
    assert response.status_code == 422
    assert response.json["errors"]["answers"] == {"phq9-4": ["required"]}
    assert "phq9-4" in response.json["message"]
    assert "safety" not in response.json


def test_an_expired_token_with_a_positive_answer_still_shows_988(people, clock, as_user, client):
    stale = people["graduate"]
    clock.advance(hours=3)  # the phone's token has expired
    response = stale.post(
        f"{people['base']}/check-ins", json=body("daily", {**DAILY, "daily-safe": 0}, clock)
    )
    assert response.status_code == 401
    assert response.json["safety"]["positive"] is True
    assert {r["phone"] for r in response.json["safety"]["resources"]} >= {"988", "911"}


def test_offline_submissions_up_to_7_days_back_and_5_minutes_ahead(people, clock, db):
    for answered_at in (clock.now() - timedelta(days=7), clock.now() + timedelta(minutes=5)):
        payload = {**body("gad7", GAD7_ZERO, clock), "answered_at": answered_at.isoformat()}
        assert (
            people["graduate"].post(f"{people['base']}/check-ins", json=payload).status_code == 201
        )


def test_idempotency_key_replays_the_first_reply(people, clock, db):
    key = {"Idempotency-Key": "phone-retry-1"}
    first = submit(people, clock, "phq9", PHQ9_ZERO, headers=key)
    again = submit(people, clock, "phq9", PHQ9_ZERO, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count(db) == 1
    different = submit(people, clock, "phq9", {**PHQ9_ZERO, "phq9-1": 1}, headers=key)
    assert different.status_code == 409
    assert count(db) == 1


def test_a_retried_safety_answer_raises_one_urgent_flag_not_two(people, clock, db):
    key = {"Idempotency-Key": "unsafe-retry"}
    answers = {**PHQ9_ZERO, "phq9-9": 1}
    first = submit(people, clock, "phq9", answers, headers=key)
    again = submit(people, clock, "phq9", answers, headers=key)
    assert again.json == first.json
    assert again.json["safety"]["positive"] is True
    assert count(db) == 1
    assert db.scalar(select(func.count()).select_from(Flag).where(Flag.kind == "urgent")) == 1


def test_an_expired_key_stores_the_new_reply_for_the_next_retry(people, clock, db, as_user):
    key = {"Idempotency-Key": "k-reused"}
    submit(people, clock, "gad7", GAD7_ZERO, headers=key)
    clock.advance(hours=25)
    later = as_user(people["email"])
    url = f"{people['base']}/check-ins"
    second = later.post(url, json=body("phq9", PHQ9_ZERO, clock), headers=key)
    retry = later.post(url, json=body("phq9", PHQ9_ZERO, clock), headers=key)
    assert second.status_code == retry.status_code == 201
    assert retry.json == second.json and retry.json["questionnaire"] == "phq9"
    assert db.scalar(select(func.count()).select_from(IdempotentRequest)) == 1
    assert count(db) == 2


def test_an_idempotency_key_is_kept_24_hours(people, clock, db, as_user):
    key = {"Idempotency-Key": "k-24h"}
    submit(people, clock, "gad7", GAD7_ZERO, headers=key)
    clock.advance(hours=24, seconds=1)
    later = as_user(people["email"])  # a fresh token, a day later
    response = later.post(
        f"{people['base']}/check-ins", json=body("gad7", GAD7_ZERO, clock), headers=key
    )
    assert response.status_code == 201
    assert count(db) == 2


def test_an_idempotency_key_belongs_to_one_graduate(people, world, as_user, clock, db):
    key = {"Idempotency-Key": "shared-key"}
    submit(people, clock, "gad7", GAD7_ZERO, headers=key)
    other = as_user(world.email("graduate")).post(
        f"/api/v1/graduates/{world.graduate.id}/check-ins",
        json=body("gad7", GAD7_ZERO, clock),
        headers=key,
    )
    assert other.status_code == 201
    assert count(db) == 2


def test_history_is_newest_first_by_answered_at_and_paginated(people, clock):
    for days_back in (3, 1, 2):
        payload = {
            **body("gad7", GAD7_ZERO, clock),
            "answered_at": (clock.now() - timedelta(days=days_back)).isoformat(),
        }
        people["graduate"].post(f"{people['base']}/check-ins", json=payload)
    response = people["graduate"].get(f"{people['base']}/check-ins", query_string={"page_size": 2})
    assert response.status_code == 200
    times = [item["answered_at"] for item in response.json]
    assert times == sorted(times, reverse=True) and len(times) == 2
    assert '"total": 3' in response.headers["X-Pagination"]
    assert response.json[0]["answers"] == GAD7_ZERO


def test_part2_records_only_with_the_consent_that_names_them(people, clock, as_user, db):
    submit(people, clock, "phq9", PHQ9_ZERO)
    bam = submit(people, clock, "bam", {f"bam-{i}": 0 for i in range(1, 18)}).json
    url = f"{people['base']}/check-ins"
    assert {c["questionnaire"] for c in people["full"].get(url).json} == {"phq9", "bam"}
    assert {c["questionnaire"] for c in people["partial"].get(url).json} == {"phq9"}
    # Indistinguishable from an id that does not exist: a 403 would name substance-use care.
    hidden, unknown = (people["partial"].get(f"{url}/{i}") for i in (bam["id"], uuid.uuid4()))
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json == unknown.json
    assert people["full"].get(f"{url}/{bam['id']}").json["answers"]["bam-1"] == 0
    trends = f"{people['base']}/trends"
    assert people["partial"].get(trends, query_string={"instrument": "bam"}).status_code == 403
    events = (
        people["staff"]
        .get(
            f"/api/v1/programs/{people['program'].id}/audit-events",
            query_string={"graduate_id": str(people["id"])},
        )
        .json
    )
    outcomes = {(e["action"], e["outcome"]) for e in events}
    assert ("check_in.list", "allowed") in outcomes
    assert ("check_in.read", "denied") in outcomes


def test_withdrawn_consent_hides_check_ins_at_once(people, clock, db):
    submit(people, clock, "phq9", PHQ9_ZERO)
    me = people["partial"].get("/api/v1/me").json
    assert people["graduate"].delete(f"{people['base']}/consents/{me['id']}").status_code == 204
    assert people["partial"].get(f"{people['base']}/check-ins").status_code == 403


def test_trends_carry_points_baseline_and_band_edges(people, clock):
    for days_back, item1 in ((14, 1), (7, 2), (0, 3)):
        payload = {
            **body("phq9", {**PHQ9_ZERO, "phq9-1": item1}, clock),
            "answered_at": (clock.now() - timedelta(days=days_back)).isoformat(),
        }
        people["graduate"].post(f"{people['base']}/check-ins", json=payload)
    since = (clock.now() - timedelta(days=10)).isoformat()
    trend = (
        people["full"]
        .get(f"{people['base']}/trends", query_string={"instrument": "phq9", "from": since})
        .json
    )
    assert trend["baseline"] == 6
    assert [p["score"] for p in trend["points"]] == [2, 3]
    assert trend["bands"][0] == {"band": "minimal", "min": 0, "max": 4}
    assert trend["bands"][-1] == {"band": "severe", "min": 20, "max": 27}


def test_stored_replies_are_purged_after_24_hours(people, clock, db, app):
    submit(people, clock, "gad7", GAD7_ZERO, headers={"Idempotency-Key": "purge-me"})
    clock.advance(hours=23)
    app.test_cli_runner().invoke(args=["jobs", "run-once"])
    assert db.scalar(select(func.count()).select_from(IdempotentRequest)) == 1
    clock.advance(hours=2)
    result = app.test_cli_runner().invoke(args=["jobs", "run-once"])
    assert "idempotency-keys.purge: 1" in result.output
    assert db.scalar(select(func.count()).select_from(IdempotentRequest)) == 0


def _statements_sent(app, send) -> list[str]:
    """The SQL statements one successful request sends (the test's savepoints not counted)."""
    with counted(app) as statements:
        response = send()
    assert response.status_code == 201, response.json
    return [s for s in statements if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))]


def _earlier_phq9s(graduate_id, clock, how_many: int) -> list[dict]:
    return [
        {
            "id": uuid.uuid4(),
            "graduate_id": graduate_id,
            "questionnaire": "phq9",
            "form_version": "2026.1",
            "answered_at": clock.now() - timedelta(days=1, minutes=80 * n),
            "submitted_at": clock.now() - timedelta(days=1, minutes=80 * n),
            "answers": PHQ9_ZERO,
            "score": 0,
            "band": "minimal",
            "subscales": None,
            "safety_positive": False,
            "part2": False,
        }
        for n in range(how_many)
    ]


def test_a_submit_sends_at_most_6_statements_with_1_or_1000_earlier_check_ins(
    people, clock, db, app
):
    def phq9(key: str):
        clock.advance(minutes=1)
        return submit(people, clock, "phq9", PHQ9_ZERO, headers={"Idempotency-Key": key})

    assert phq9("first").status_code == 201  # the hour's activity write is behind us
    with_one = _statements_sent(app, lambda: phq9("second"))
    db.execute(insert(CheckIn), _earlier_phq9s(people["id"], clock, 998))
    db.commit()
    assert count(db) == 1000
    with_many = _statements_sent(app, lambda: phq9("third"))
    assert len(with_one) == len(with_many) <= 6, with_many
    # Sign-in, the check-in, its neighbours for the rules, pending reminders, the key.
    assert [s.split()[0] for s in with_many] == ["SELECT", "INSERT", "SELECT", "SELECT", "INSERT"]


def test_a_daily_check_in_reads_no_earlier_check_ins(people, clock, app):
    """Its rules read the answer alone (safety), so no history is read for them."""
    sent = _statements_sent(app, lambda: submit(people, clock, "daily", DAILY))
    assert not [s for s in sent if s.lstrip().upper().startswith("SELECT") and "check_ins" in s]
