"""Wall-clock times in a zone and RFC 5545 recurrence, refusing what a calendar cannot mean."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrulestr
from icalendar import vRecur

from api.errors import Invalid

MAX_OCCURRENCES = 260  # five years of weekly sessions
ALLOWED_FREQUENCIES = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
RULE = re.compile(r"^(RRULE:)?[A-Z0-9=;,+\-]+$")
RULE_HELP = "an RFC 5545 RRULE in the graduate's local time, e.g. FREQ=WEEKLY;COUNT=12"


def to_instant(local: datetime, timezone: str, *, field: str = "starts_at_local") -> datetime:
    """The UTC instant of a wall-clock time; times in a DST gap or overlap are refused."""
    zone = zoneinfo.ZoneInfo(timezone)
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if first.replace(tzinfo=None) != first.astimezone(UTC).astimezone(zone).replace(tzinfo=None):
        raise Invalid(
            "That time does not exist in this time zone.",
            errors={field: [f"{local:%Y-%m-%d %H:%M} is skipped by a daylight-saving change"]},
        )
    if first.utcoffset() != second.utcoffset():
        raise Invalid(
            "That time happens twice in this time zone.",
            errors={
                field: [
                    f"{local:%Y-%m-%d %H:%M} is repeated by a daylight-saving change; "
                    "pick a time outside that hour"
                ]
            },
        )
    return first.astimezone(UTC)


def check_rrule(rule: str, start_local: datetime) -> None:
    """A bounded rule: COUNT or UNTIL, no finer than daily, at most MAX_OCCURRENCES."""
    if not RULE.match(rule) or "DTSTART" in rule.upper():
        raise Invalid("Recurrence rule not understood.", errors={"rrule": [RULE_HELP]})
    try:
        # icalendar reads the rule's parts; dateutil expands it (icalendar cannot).
        parts = vRecur.from_ical(rule.removeprefix("RRULE:"))
        expanded = rrulestr(rule, dtstart=start_local, forceset=False)
    except (ValueError, TypeError):
        raise Invalid("Recurrence rule not understood.", errors={"rrule": [RULE_HELP]}) from None
    if (parts.get("FREQ") or [None])[0] not in ALLOWED_FREQUENCIES:
        raise Invalid(
            "Recurrence too frequent.", errors={"rrule": ["FREQ must be DAILY or less often"]}
        )
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise Invalid(
            "Recurrence never ends.", errors={"rrule": ["give COUNT or UNTIL so it ends"]}
        )
    for index, _ in enumerate(expanded):
        if index >= MAX_OCCURRENCES:
            raise Invalid(
                "Recurrence has too many occurrences.",
                errors={"rrule": [f"at most {MAX_OCCURRENCES} occurrences"]},
            )


def occurrences(
    *, starts_at: datetime, timezone: str, rrule: str | None, start: datetime, end: datetime
) -> Iterator[datetime]:
    """UTC start instants in [start, end), repeating on the wall clock across DST changes."""
    zone = zoneinfo.ZoneInfo(timezone)
    first_local = starts_at.astimezone(zone).replace(tzinfo=None)
    locals_ = [first_local] if rrule is None else rrulestr(rrule, dtstart=first_local)
    for local in locals_:
        instant = local.replace(tzinfo=zone).astimezone(UTC)
        if instant >= end:
            return
        if instant >= start:
            yield instant


def local_day_bounds(day_start_local: datetime, timezone: str) -> tuple[datetime, datetime]:
    zone = zoneinfo.ZoneInfo(timezone)
    start = day_start_local.replace(tzinfo=zone)
    end = (day_start_local + timedelta(days=1)).replace(tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
