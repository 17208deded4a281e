"""Which check-ins are due, by DOMAIN.md's cadence, with the clock frozen and moved."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from api.flags.models import Flag
from tests import factories

GRADUATION = date(2026, 11, 2)  # a Monday; day 7 is 2026-11-09
PHQ9_ZERO = {f"phq9-{i}": 0 for i in range(1, 10)}
GAD7_ZERO = {f"gad7-{i}": 0 for i in range(1, 8)}
DAILY = {"daily-mood": 6, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0}


def at_local_noon(day: int) -> datetime:
    """Noon in Chicago on day `day` after graduation (18:00 UTC in November)."""
    return datetime.fromisoformat(f"{GRADUATION + timedelta(days=day)}T18:00:00+00:00")


@pytest.fixture
def graduate(db, as_user, clock):
    program = factories.program(db)
    email = factories.unique_email("grad")
    record = factories.graduate(db, program, email=email, graduation_date=GRADUATION)
    db.commit()
    base = f"/api/v1/graduates/{record.id}/check-ins"

    class Phone:
        def due(self) -> dict[str, dict]:
            response = as_user(email).get(f"{base}/due")
            assert response.status_code == 200, response.json
            return {entry["questionnaire"]: entry for entry in response.json}

        def answer(self, questionnaire: str, answers: dict) -> None:
            response = as_user(email).post(
                base,
                json={
                    "questionnaire": questionnaire,
                    "answers": answers,
                    "answered_at": clock.now().isoformat(),
                },
            )
            assert response.status_code == 201, response.json

    return Phone()


def test_month_1_daily_every_day_and_full_forms_on_day_7(graduate, clock):
    clock.set(at_local_noon(3))
    assert set(graduate.due()) == {"daily"}
    assert graduate.due()["daily"]["optional"] is False
    clock.set(at_local_noon(7))
    due = graduate.due()
    assert set(due) == {"daily", "phq9", "gad7"}
    assert due["phq9"]["due_date"] == "2026-11-09"
    assert due["phq9"]["closes_at"] == "2026-11-12T06:00:00+00:00"  # local midnight, 3 days on


def test_answering_removes_it_and_the_window_closes_after_3_days(graduate, clock):
    clock.set(at_local_noon(7))
    graduate.answer("phq9", PHQ9_ZERO)
    graduate.answer("daily", DAILY)
    assert set(graduate.due()) == {"gad7"}
    clock.set(at_local_noon(9))
    assert "gad7" in graduate.due()
    clock.set(at_local_noon(10))
    assert "gad7" not in graduate.due()  # missed: the window has closed


def test_a_form_answered_early_satisfies_the_next_due_date(graduate, clock):
    clock.set(at_local_noon(11))
    graduate.answer("gad7", GAD7_ZERO)
    clock.set(at_local_noon(14))
    assert "gad7" not in graduate.due()
    assert "phq9" in graduate.due()


def test_every_two_weeks_after_month_1_and_daily_becomes_optional(graduate, clock):
    clock.set(at_local_noon(35))
    assert set(graduate.due()) == {"daily"}
    assert graduate.due()["daily"]["optional"] is True
    clock.set(at_local_noon(42))
    assert {"phq9", "gad7"} <= set(graduate.due())
    clock.set(at_local_noon(49))
    assert set(graduate.due()) == {"daily"}


def test_every_four_weeks_after_month_6(graduate, clock):
    clock.set(at_local_noon(196))
    assert set(graduate.due()) == {"daily"}
    clock.set(at_local_noon(210))
    assert {"phq9", "gad7"} <= set(graduate.due())


def test_a_positive_phq2_makes_the_phq9_due_now(graduate, clock):
    clock.set(at_local_noon(3))
    graduate.answer("daily", {**DAILY, "phq2-1": 2, "phq2-2": 1})
    due = graduate.due()
    assert due["phq9"]["reason"] == "screen"
    assert "gad7" not in due
    graduate.answer("phq9", PHQ9_ZERO)
    assert "phq9" not in graduate.due()


def test_nothing_is_due_before_graduation(graduate, clock):
    clock.set(at_local_noon(-2))
    assert graduate.due() == {}


def test_an_open_watch_brings_back_month_1_intensity(graduate, clock, db):
    clock.set(at_local_noon(49))  # months 2-3: fortnightly forms, optional daily
    assert set(graduate.due()) == {"daily"}
    assert graduate.due()["daily"]["optional"] is True
    graduate.answer("phq9", {**PHQ9_ZERO, "phq9-1": 3, "phq9-2": 3, "phq9-3": 3, "phq9-4": 3})
    assert db.scalar(select(Flag.kind)) == "watch"
    clock.set(at_local_noon(56))
    assert "phq9" in graduate.due()
    clock.set(at_local_noon(63))  # not a fortnightly date: weekly while the watch is open
    due = graduate.due()
    assert {"phq9", "gad7"} <= set(due) and due["daily"]["optional"] is False
