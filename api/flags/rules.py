"""The default step-up rules (DOMAIN.md), as plain code over the last three check-ins of one
instrument and the discharge baseline: the cost never grows with a graduate's history."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from api.vocabulary import FlagKind, FlagSource

KINDS = tuple(FlagKind)  # most severe first
SEVERITY: dict[str, int] = {
    kind: len(KINDS) - rank for rank, kind in enumerate(KINDS)
}  # urgent highest
ITEM9_LABELS = {1: "several days", 2: "more than half the days", 3: "nearly every day"}
NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7"}
# The instruments whose rules read earlier check-ins (the others: safety answers only).
HISTORY_INSTRUMENTS = ("phq9", "gad7", "bam")
DEFAULT_VERSION = "domain-2026.1"
# How soon a program may escalate; none may escalate later than DOMAIN.md's hour and day.
SHORTEST_URGENT_MINUTES = 5
SHORTEST_STEP_UP_HOURS = 1


@dataclass(frozen=True)
class Rules:
    """Program-configurable numbers (DOMAIN.md's by default); every flag records the version
    that raised it."""

    version: str = DEFAULT_VERSION
    rise: dict[str, int] = field(default_factory=lambda: {"phq9": 5, "gad7": 4})
    moderate_at: int = 10
    severe_at: dict[str, int] = field(default_factory=lambda: {"phq9": 20, "gad7": 15})
    cooldown_days: int = 7
    escalate_urgent_minutes: int = 60
    escalate_step_up_hours: int = 24
    # No app activity for this many days is disengagement; after month 6 it never is.
    inactive_days: dict[str, int] = field(
        default_factory=lambda: {"month1": 7, "months2_3": 7, "months4_6": 14}
    )
    # Who escalations go to; empty means every staff member of the program.
    on_call_emails: list[str] = field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        """The configurable numbers, without the version label."""
        values = asdict(self)
        del values["version"]
        return values


def for_program(stored: dict[str, Any] | None, number: int) -> Rules:
    """The rules a program runs: its stored version `number`, or the defaults if it has none."""
    if not stored:
        return DEFAULT_RULES
    return Rules(version=f"program-v{number}", **stored)


DEFAULT_RULES = Rules()


@dataclass(frozen=True)
class Point:
    """One scored check-in, as the rules see it."""

    id: uuid.UUID
    questionnaire: str
    score: int | None
    subscales: dict[str, int] | None
    answers: dict[str, int]
    safety_positive: bool


@dataclass(frozen=True)
class Signal:
    kind: str
    source: str
    rule: str
    explanation: str
    details: dict[str, Any]
    evidence: tuple[uuid.UUID, ...]


def evaluate(
    *, latest: list[Point], baseline: dict[str, int], rules: Rules = DEFAULT_RULES
) -> list[Signal]:
    """`latest`: up to three check-ins of one instrument, newest first (the new one first)."""
    current = latest[0]
    signals = [s for s in (_urgent(current),) if s is not None]
    if current.questionnaire in ("phq9", "gad7"):
        signals += _mood(latest, baseline[current.questionnaire], rules)
    elif current.questionnaire == "bam":
        signals += _substance_use(latest)
    return signals


def _urgent(point: Point) -> Signal | None:
    if not point.safety_positive:
        return None
    if point.questionnaire == "phq9":
        answer = point.answers.get("phq9-9", 0)
        explanation = (
            f"Answered PHQ-9 question 9 (thoughts of being better off dead or of hurting "
            f'themselves) with "{ITEM9_LABELS.get(answer, answer)}"; PHQ-9 total {point.score}.'
        )
        details = {"item": "phq9-9", "answer": answer, "total": point.score}
    else:
        explanation = 'Answered "I\'m not safe right now" in the daily check-in.'
        details = {"item": "daily-safe", "answer": 0}
    return Signal(
        FlagKind.URGENT, FlagSource.MOOD, "safety_answer", explanation, details, (point.id,)
    )


def _watch(points: list[Point], baseline: int, rules: Rules) -> dict[str, Any] | None:
    """Why the first of `points` meets a watch condition, or None."""
    instrument, score = points[0].questionnaire, points[0].score
    if score is None:
        return None
    before = points[1].score if len(points) > 1 and points[1].score is not None else baseline
    if score - baseline >= rules.rise[instrument]:
        return {
            "condition": "rise_from_baseline",
            "score": score,
            "baseline": baseline,
            "threshold": rules.rise[instrument],
        }
    if score >= rules.moderate_at > before:
        return {
            "condition": "newly_moderate",
            "score": score,
            "previous": before,
            "threshold": rules.moderate_at,
        }
    return None


def _mood(latest: list[Point], baseline: int, rules: Rules) -> list[Signal]:
    current, instrument = latest[0], latest[0].questionnaire
    name, score = NAMES[instrument], current.score
    if score is None:  # an unscored check-in meets no mood rule
        return []
    severe_at = rules.severe_at[instrument]
    previous = latest[1] if len(latest) > 1 else None
    now_watch = _watch(latest, baseline, rules)
    before_watch = _watch(latest[1:], baseline, rules) if previous else None

    if instrument == "phq9" and score >= severe_at:
        return [
            _signal(
                FlagKind.STEP_UP,
                "phq9_severe",
                f"{name} is {score}, in the severe range ({severe_at} or more).",
                {"score": score, "threshold": severe_at},
                (current.id,),
            )
        ]
    if (
        instrument == "gad7"
        and previous
        and previous.score is not None
        and score >= severe_at
        and previous.score >= severe_at
    ):
        return [
            _signal(
                FlagKind.STEP_UP,
                "gad7_severe_twice",
                f"{name} was {previous.score} and then {score}, in the severe range "
                f"({severe_at} or more) on two check-ins in a row.",
                {"scores": [previous.score, score], "threshold": severe_at},
                (previous.id, current.id),
            )
        ]
    if now_watch and before_watch and previous:
        return [
            _signal(
                FlagKind.STEP_UP,
                f"{instrument}_watch_twice",
                f"{name} rose from {baseline} at discharge to {previous.score} and "
                f"{score} on the last two check-ins.",
                {
                    "baseline": baseline,
                    "scores": [previous.score, score],
                    "conditions": [before_watch["condition"], now_watch["condition"]],
                },
                (previous.id, current.id),
            )
        ]
    if now_watch:
        if now_watch["condition"] == "rise_from_baseline":
            text = (
                f"{name} rose from {baseline} at discharge to {score} ({score - baseline} points)."
            )
        else:
            text = (
                f"{name} is {score}, newly in the moderate range (it was {now_watch['previous']})."
            )
        return [
            _signal(
                FlagKind.WATCH,
                f"{instrument}_{now_watch['condition']}",
                text,
                {"baseline": baseline, **now_watch},
                (current.id,),
            )
        ]
    return []


def _substance_use(latest: list[Point]) -> list[Signal]:
    current = latest[0]
    use = (current.subscales or {}).get("use", 0)
    if use <= 0:
        return []
    previous = latest[1] if len(latest) > 1 else None
    previous_use = (previous.subscales or {}).get("use", 0) if previous else 0
    if previous is not None and previous_use > 0:
        return [
            Signal(
                FlagKind.STEP_UP,
                FlagSource.SUBSTANCE_USE,
                "bam_use_twice",
                "Reported alcohol or drug use on two substance-use check-ins in a row.",
                {"use": [previous_use, use]},
                (previous.id, current.id),
            )
        ]
    return [
        Signal(
            FlagKind.WATCH,
            FlagSource.SUBSTANCE_USE,
            "bam_new_use",
            "Reported alcohol or drug use after a substance-use check-in with none.",
            {"use": use, "previous_use": previous_use},
            (current.id,),
        )
    ]


def _signal(
    kind: str, rule: str, explanation: str, details: dict[str, Any], evidence: tuple[uuid.UUID, ...]
) -> Signal:
    return Signal(kind, FlagSource.MOOD, rule, explanation, details, evidence)
