"""The words flags and notifications are stored and served with, in one place.

Models, schemas and rules share these. A StrEnum member is the string itself (it compares
equal to it, is stored as it and serializes to it), so the API and the database see the
same values as before; the members only stop a typo from becoming a new kind or status.
"""

from __future__ import annotations

from enum import StrEnum


class FlagKind(StrEnum):
    """Most severe first: the order is the severity order (api.flags.rules.SEVERITY)."""

    URGENT = "urgent"
    STEP_UP = "step_up"
    WATCH = "watch"
    DISENGAGED = "disengaged"
    CONTACT_REQUEST = "contact_request"


class FlagStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class FlagSource(StrEnum):
    """What a flag was raised from; substance-use flags are 42 CFR Part 2 data."""

    MOOD = "mood"
    SUBSTANCE_USE = "substance_use"


class FlagOutcome(StrEnum):
    """How a flag was resolved: a clinician's choice, or superseded by a more severe flag."""

    STEPPED_UP = "stepped_up"
    MORE_OUTPATIENT = "more_outpatient"
    MEDICATION_REVIEW = "medication_review"
    MONITOR = "monitor"
    NO_ACTION = "no_action"
    SUPERSEDED = "superseded"


class NotificationKind(StrEnum):
    SKILL_PRACTICE = "skill_practice"
    CHECK_IN_DUE = "check_in_due"
    CHECK_IN_NUDGE = "check_in_nudge"
    APPOINTMENT_BEFORE = "appointment_before"
    APPOINTMENT_FOLLOWUP = "appointment_followup"
    GROUP_MEETING = "group_meeting"
    GROUP_ANNOUNCEMENT = "group_announcement"
    ESCALATION = "escalation"
    SUMMARY_READY = "summary_ready"
    ALERT = "alert"  # an urgent or step-up flag, to the care team (api.flags.alerts)
    ALERT_EMAIL = "alert_email"
    SUMMARY_READY_EMAIL = "summary_ready_email"


class NotificationStatus(StrEnum):
    """pending → claimed → sent | failed, or back to pending (retry later);
    pending → cancelled (task done) | superseded (a newer one of its collapse key) | expired."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
