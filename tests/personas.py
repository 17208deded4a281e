"""The kinds of caller every route is tried with, and expected-status rows."""

from __future__ import annotations

PERSONAS = (
    "graduate",
    "other_graduate",
    "therapist_consent",
    "therapist_no_consent",
    "therapist_unlinked",
    "coordinator",
    "staff",
    "other_staff",
    "anonymous",
)


def row(default: int, **overrides: int) -> dict[str, int]:
    """Expected status per persona: `default` for anyone signed in not named, 401 anonymous."""
    statuses = {persona: default for persona in PERSONAS}
    statuses["anonymous"] = 401
    statuses.update(overrides)
    return statuses


def everyone(status: int) -> dict[str, int]:
    return {persona: status for persona in PERSONAS}
