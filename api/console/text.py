"""Plain words for codes, and times in the reader's zone: what every console page prints."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from api import timeline

KINDS = {
    "urgent": "Urgent",
    "step_up": "Step-up review",
    "watch": "Watch",
    "disengaged": "Disengaged",
    "contact_request": "Asked to talk",
}
STATUSES = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"}
OUTCOMES = {
    "stepped_up": "Stepped up to IOP",
    "more_outpatient": "More outpatient sessions",
    "medication_review": "Medication review",
    "monitor": "Monitor",
    "no_action": "No action needed",
}
PHASES = {
    "month1": "Month 1",
    "months2_3": "Months 2\u20133",
    "months4_6": "Months 4\u20136",
    "maintenance": "Maintenance",
}
EVENTS = {
    "raised": "raised it",
    "updated": "added evidence",
    "alerted": "alerted the care team",
    "acknowledged": "acknowledged it",
    "resolved": "resolved it",
    "escalated": "escalated it",
    "superseded": "replaced it with a more serious flag",
}
FORMS = {
    "phq9": "PHQ-9",
    "gad7": "GAD-7",
    "who5": "WHO-5",
    "daily": "Daily check-in",
    "bam": "BAM (substance use)",
}
STEP_DOWN = {
    "aftercare_group": "Aftercare group",
    "alumni_meeting": "Alumni meeting",
    "other": "Other",
}
REPORTS = {"attended": "Attended", "missed": "Missed", "rescheduled": "Rescheduled"}
BANDS = {
    "minimal": "minimal",
    "mild": "mild",
    "moderate": "moderate",
    "moderately_severe": "moderately severe",
    "severe": "severe",
}


def label(table: dict[str, str], code: str | None) -> str:
    """The plain word for a code; an unknown code reads as words, never as snake_case."""
    if code is None:
        return ""
    return table.get(code) or code.replace("_", " ").capitalize()


def when(moment: datetime | None, zone: str) -> str:
    """ "Tue 8 Dec, 18:00" in `zone`: the reader's own, or the graduate's where it matters."""
    if moment is None:
        return "never"
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


def day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def local_day(moment: datetime, zone: str) -> str:
    return day(moment.astimezone(zoneinfo.ZoneInfo(zone)).date())


def days_since(graduated: date, zone: str, now: datetime) -> int:
    return (timeline.local_today(zone, now) - graduated).days


def phase(days: int) -> str:
    return PHASES[timeline.phase_for(days)]
