"""What a push says, by kind: generic on purpose.

A push shows on a lock screen, a shared tablet, a smartwatch. It must not say what the
person is being treated for, a score, a questionnaire, a medication, or the program's
name. Callers cannot pass their own text: the kind picks it from here.

An email (the `_email` kinds, a clinician's second channel) says the same generic words
and adds a sign-in link to the console: to what it is about by an opaque id, or to the
summaries. No graduate's name, score, answer or anything Part 2 is ever in it.
"""

from __future__ import annotations

from api.vocabulary import NotificationKind

TEXTS: dict[str, tuple[str, str]] = {
    NotificationKind.SKILL_PRACTICE: (
        "A reminder from your plan",
        "Take a moment for today's practice.",
    ),
    NotificationKind.CHECK_IN_DUE: (
        "You have a check-in",
        "A short check-in is ready when you are.",
    ),
    NotificationKind.CHECK_IN_NUDGE: (
        "Your check-in is still open",
        "There is still time to answer it.",
    ),
    NotificationKind.APPOINTMENT_BEFORE: (
        "A reminder from your plan",
        "You have something coming up.",
    ),
    NotificationKind.APPOINTMENT_FOLLOWUP: (
        "A quick question",
        "Open the app to tell us how it went.",
    ),
    NotificationKind.GROUP_MEETING: ("A reminder from your plan", "Your group meets soon."),
    NotificationKind.GROUP_ANNOUNCEMENT: ("Something new for you", "Open the app to read it."),
    NotificationKind.ESCALATION: ("Needs your attention", "Open the console to review."),
    NotificationKind.SUMMARY_READY: ("Your summary is ready", "Open the app to see it."),
    NotificationKind.ALERT: (
        "A graduate needs follow-up",
        "A graduate on your caseload needs follow-up. Open the console to review.",
    ),
    NotificationKind.ALERT_EMAIL: (
        "A graduate on your caseload needs follow-up",
        "A graduate on your caseload needs follow-up. Sign in to the console to review it.",
    ),
    NotificationKind.SUMMARY_READY_EMAIL: (
        "Your weekly summaries are ready",
        "Your weekly summaries are ready. Sign in to the console to read them.",
    ),
}

# Where an email's sign-in link goes in the console; `{link}` is the row's opaque id (for
# an alert, the flag's id: the console signs the person in, then opens what it names).
EMAIL_LINKS: dict[str, str] = {
    NotificationKind.ALERT_EMAIL: "/open/{link}",
    NotificationKind.SUMMARY_READY_EMAIL: "/summaries",
}


def email_body(kind: str, link: str | None, console_url: str) -> str:
    """The whole text of an email: the kind's generic sentence and a sign-in link."""
    path = EMAIL_LINKS[kind].format(link=link or "")
    return (
        f"{TEXTS[kind][1]}\n\n{console_url.rstrip('/')}{path}\n\n"
        "You receive this because you added this address as an alert channel in the "
        "console. Nothing about anyone's health is sent by email.\n"
    )
