"""Scoring, bands and positive screens, driven by the questionnaire's content file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.content.loader import ContentLibrary, Questionnaire


@dataclass(frozen=True)
class Scored:
    score: int | None
    band: str | None
    subscales: dict[str, int] | None
    safety_positive: bool


def answer_problems(
    questionnaire: Questionnaire, answers: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Every problem with the answers, by link id: unknown, missing, not a whole number,
    or not one of the item's answer values."""
    problems: dict[str, list[str]] = {}
    for link_id in answers:
        if questionnaire.item(link_id) is None:
            problems[link_id] = [f"not an item of {questionnaire.id}"]
    for item in questionnaire.items:
        if item.link_id not in answers:
            if item.required:
                problems[item.link_id] = ["required"]
            continue
        value = answers[item.link_id]
        if isinstance(value, bool) or not isinstance(value, int):
            problems[item.link_id] = ["must be a whole number"]
        elif value not in item.values:
            problems[item.link_id] = [f"must be between {item.min_value} and {item.max_value}"]
    return problems


def score(questionnaire: Questionnaire, answers: Mapping[str, int]) -> Scored:
    """Answers already checked by answer_problems."""
    total = (
        sum(answers[link_id] for link_id in questionnaire.total) if questionnaire.total else None
    )
    band = questionnaire.band_for(total) if total is not None else None
    subscales = (
        {
            subscale.name: sum(answers.get(link_id, 0) for link_id in subscale.items)
            for subscale in questionnaire.subscales
        }
        if questionnaire.subscales and questionnaire.total is None
        else None
    )
    return Scored(
        score=total,
        band=band,
        subscales=subscales,
        safety_positive=is_safety_positive(questionnaire, answers),
    )


def is_safety_positive(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> bool:
    return any(
        rule.positive(value)
        for rule in questionnaire.safety
        if (value := as_number(answers.get(rule.item))) is not None
    )


def screens_positive(library: ContentLibrary, body: Any) -> bool:
    """Whether a raw request body holds a positive safety answer, however wrong the rest is.

    Link ids are unique across forms, so the rules apply whichever form the body names:
    a phone that got the questionnaire wrong has still said its person is not safe.
    """
    answers = body.get("answers") if isinstance(body, dict) else None
    if not isinstance(answers, dict):
        return False
    return any(
        is_safety_positive(questionnaire, answers) for questionnaire in library.questionnaires()
    )


def touches_part2(library: ContentLibrary, body: Any) -> bool:
    """Whether a raw request body names a substance-use (Part 2) form or answers one of its
    items, however wrong the rest is: its refusal must not be quoted to a reader without
    the consent that names substance-use records."""
    if not isinstance(body, dict):
        return False
    named = body.get("questionnaire")
    named = named.strip().lower() if isinstance(named, str) else None
    answers = body.get("answers")
    link_ids = [str(key) for key in answers] if isinstance(answers, dict) else []
    return any(
        form.id == named
        or any(
            form.item(link_id) is not None or link_id.split("-")[0] == form.id
            for link_id in link_ids
        )
        for form in library.questionnaires()
        if form.part2
    )


def as_number(value: Any) -> int | None:
    """A lenient reading, for the safety screen only: 2, 2.0 and "2" all mean 2."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None
