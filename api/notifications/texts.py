"""What a push says, by kind: generic on purpose.

A push shows on a lock screen, a shared tablet, a smartwatch. It must not say what the
person is being treated for, a score, a questionnaire, a medication, or the program's
name. Callers cannot pass their own text: the kind picks it from here.
"""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "skill_practice": ("A reminder from your plan", "Take a moment for today's practice."),
    "check_in_due": ("You have a check-in", "A short check-in is ready when you are."),
    "check_in_nudge": ("Your check-in is still open", "There is still time to answer it."),
    "appointment_before": ("A reminder from your plan", "You have something coming up."),
    "appointment_followup": ("A quick question", "Open the app to tell us how it went."),
    "group_meeting": ("A reminder from your plan", "Your group meets soon."),
    "group_announcement": ("Something new for you", "Open the app to read it."),
    "escalation": ("Needs your attention", "Open the console to review."),
    "summary_ready": ("Your summary is ready", "Open the app to see it."),
}
