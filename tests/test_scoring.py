"""Scoring and bands exactly as published (DOMAIN.md), from the content files: edges of every
band, zero and the maximum, and the safety screens."""

from __future__ import annotations

import pytest

from api.checkins import scoring
from api.config import PROJECT_DIR
from api.content.loader import load_library

LIBRARY = load_library(PROJECT_DIR / "content")


def answers_totalling(form_id: str, total: int) -> dict[str, int]:
    """Answers to every item of a summed form that add up to `total`, item 9 kept at 0."""
    form = LIBRARY.questionnaire(form_id)
    answers = {item.link_id: 0 for item in form.items}
    remaining = total
    for item in form.items:
        if item.link_id == "phq9-9":
            continue
        step = min(item.max_value, remaining)
        answers[item.link_id] = step
        remaining -= step
    assert remaining == 0, "total out of reach without item 9"
    return answers


@pytest.mark.parametrize(
    ("form_id", "total", "band"),
    [
        ("phq9", 0, "minimal"),
        ("phq9", 4, "minimal"),
        ("phq9", 5, "mild"),
        ("phq9", 9, "mild"),
        ("phq9", 10, "moderate"),
        ("phq9", 14, "moderate"),
        ("phq9", 15, "moderately_severe"),
        ("phq9", 19, "moderately_severe"),
        ("phq9", 20, "severe"),
        ("phq9", 24, "severe"),
        ("gad7", 0, "minimal"),
        ("gad7", 4, "minimal"),
        ("gad7", 5, "mild"),
        ("gad7", 9, "mild"),
        ("gad7", 10, "moderate"),
        ("gad7", 14, "moderate"),
        ("gad7", 15, "severe"),
        ("gad7", 21, "severe"),
        ("who5", 0, "poor"),
        ("who5", 12, "poor"),
        ("who5", 13, "good"),
        ("who5", 25, "good"),
    ],
)
def test_totals_and_bands(form_id, total, band):
    scored = scoring.score(LIBRARY.questionnaire(form_id), answers_totalling(form_id, total))
    assert (scored.score, scored.band, scored.subscales) == (total, band, None)
    assert scored.safety_positive is False


def test_phq9_maximum_is_27_severe_and_item_9_positive():
    form = LIBRARY.questionnaire("phq9")
    scored = scoring.score(form, {item.link_id: 3 for item in form.items})
    assert (scored.score, scored.band, scored.safety_positive) == (27, "severe", True)


@pytest.mark.parametrize(("item9", "positive"), [(0, False), (1, True), (2, True), (3, True)])
def test_any_item_9_answer_from_1_is_a_positive_screen_whatever_the_total(item9, positive):
    answers = {**answers_totalling("phq9", 0), "phq9-9": item9}
    scored = scoring.score(LIBRARY.questionnaire("phq9"), answers)
    assert scored.safety_positive is positive
    assert scored.band == "minimal"


@pytest.mark.parametrize(
    ("answers", "subscales", "positive"),
    [
        ({"phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0}, {"phq2": 0, "gad2": 0}, False),
        ({"phq2-1": 1, "phq2-2": 2, "gad2-1": 3, "gad2-2": 3}, {"phq2": 3, "gad2": 6}, False),
        (
            {"phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0, "daily-safe": 0},
            {"phq2": 0, "gad2": 0},
            True,
        ),
        (
            {"phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0, "daily-safe": 1},
            {"phq2": 0, "gad2": 0},
            False,
        ),
    ],
)
def test_daily_reports_phq2_and_gad2_and_the_not_safe_answer(answers, subscales, positive):
    scored = scoring.score(LIBRARY.questionnaire("daily"), {"daily-mood": 5, **answers})
    assert (scored.score, scored.band) == (None, None)
    assert scored.subscales == subscales
    assert scored.safety_positive is positive


def test_bam_reports_use_risk_and_protective():
    form = LIBRARY.questionnaire("bam")
    answers = {item.link_id: 0 for item in form.items}
    answers.update({"bam-4": 2, "bam-5": 1, "bam-6": 3, "bam-1": 4, "bam-8": 2, "bam-9": 4})
    scored = scoring.score(form, answers)
    assert (scored.score, scored.band) == (None, None)
    assert scored.subscales == {"use": 6, "risk": 6, "protective": 4}


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        ({"phq9-1": 4}, "must be between 0 and 3"),
        ({"phq9-1": -1}, "must be between 0 and 3"),
        ({"phq9-1": True}, "must be a whole number"),
        ({"phq9-1": "2"}, "must be a whole number"),
        ({"phq9-1": 1.5}, "must be a whole number"),
    ],
)
def test_answer_problems(answers, problem):
    form = LIBRARY.questionnaire("phq9")
    problems = scoring.answer_problems(form, {**answers_totalling("phq9", 0), **answers})
    assert problems == {"phq9-1": [problem]}


def test_missing_and_unknown_items_are_named():
    form = LIBRARY.questionnaire("phq9")
    answers = answers_totalling("phq9", 0)
    del answers["phq9-3"]
    problems = scoring.answer_problems(form, {**answers, "gad7-1": 1})
    assert problems == {"phq9-3": ["required"], "gad7-1": ["not an item of phq9"]}


@pytest.mark.parametrize(
    ("body", "positive"),
    [
        ({"answers": {"phq9-9": 1}}, True),
        ({"answers": {"phq9-9": "2"}}, True),
        ({"questionnaire": "gad7", "answers": {"phq9-9": 1}}, True),
        ({"answers": {"daily-safe": 0}}, True),
        ({"answers": {"daily-safe": 1, "phq9-9": 0}}, False),
        ({"answers": "not a dict"}, False),
        ([1, 2], False),
        (None, False),
    ],
)
def test_the_raw_body_safety_screen(body, positive):
    assert scoring.screens_positive(LIBRARY, body) is positive
