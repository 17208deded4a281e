"""The rules that choose a summary's headline, one by one and in their order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.summaries.headline import Score, choose, worsening_weeks

START = datetime(2026, 11, 2, 6, tzinfo=UTC)
BASELINE = {"phq9": 6, "gad7": 4}


def series(*scores: int) -> list[Score]:
    return [Score(START + timedelta(weeks=i), s) for i, s in enumerate(scores)]


def headline(**overrides):
    facts = {
        "safety_this_week": False,
        "urgent_open": False,
        "days_since_check_in": 2,
        "ever_checked_in": True,
        "series": {"phq9": series(6, 6), "gad7": series(4, 5)},
        "baseline": BASELINE,
        "appointments": {"attended": 1, "missed": 0},
    }
    return choose(**{**facts, **overrides})


def test_stable():
    assert headline().text == "Stable"


def test_worsening_counts_the_weeks_since_the_rise_began():
    assert worsening_weeks(series(4, 5, 8, 11), instrument="gad7") == 3
    assert worsening_weeks(series(4, 9, 5, 6, 9), instrument="gad7") == 2  # since the fall
    assert worsening_weeks(series(4, 7), instrument="gad7") is None  # 3 < 4 points
    assert worsening_weeks(series(6, 11), instrument="phq9") == 1
    found = headline(series={"phq9": series(6, 8, 11), "gad7": series(4, 5, 9)})
    assert found.text == "Worsening depression and anxiety over 2 weeks"


def test_slow_drift_from_the_baseline_counts():
    assert headline(series={"phq9": series(6, 7, 8, 9, 11), "gad7": series(4)}).rule == (
        "worsening"
    )


def test_safety_comes_first():
    found = headline(safety_this_week=True, days_since_check_in=30)
    assert (found.rule, found.text) == ("safety", "Safety answer needs follow-up")
    assert headline(urgent_open=True).rule == "safety"


def test_stopped_checking_in_before_worsening():
    found = headline(days_since_check_in=10, series={"phq9": series(6, 12), "gad7": series(4)})
    assert found.text == "Stopped checking in 10 days ago"
    assert headline(days_since_check_in=6).rule == "stable"
    never = headline(days_since_check_in=9, ever_checked_in=False)
    assert never.text == "No check-ins since graduation 9 days ago"


def test_missed_appointments():
    found = headline(appointments={"attended": 0, "missed": 2})
    assert found.text == "Missed 2 appointments this week"
    assert headline(appointments={"attended": 1, "missed": 1}).rule == "stable"


def test_improving_and_no_scores():
    assert headline(series={"phq9": series(6, 1), "gad7": series(4)}).text == (
        "Improving since discharge"
    )
    assert headline(series={"phq9": series(6), "gad7": series(4)}).rule == "no_scores_yet"
