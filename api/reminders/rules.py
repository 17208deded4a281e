"""A graduate's reminder preferences as rules in their zone, and the windows the planner
works in: quiet hours, pause, snoozes, which kinds are off.

Built once per distinct (zone, preferences): most graduates share the defaults.
"""

from __future__ import annotations

import functools
import json
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from api.reminders.models import DEFAULTS, KIND_GROUPS
from api.vocabulary import NotificationKind

# Slots this far back may still be wanted: moved past quiet hours or by a snooze.
HISTORY = timedelta(days=2)
NO_QUIET_EXPIRY = timedelta(hours=12)
GROUP_LEAD = timedelta(hours=2)  # before a group meeting the graduate holds a seat in
# When the cap bites, what matters most goes first.
PRIORITY: dict[str, int] = {
    NotificationKind.APPOINTMENT_BEFORE: 0,
    NotificationKind.APPOINTMENT_FOLLOWUP: 1,
    NotificationKind.GROUP_MEETING: 2,
    NotificationKind.CHECK_IN_DUE: 3,
    NotificationKind.CHECK_IN_NUDGE: 4,
    NotificationKind.SKILL_PRACTICE: 5,
}
REMINDER_KINDS = tuple(PRIORITY)
GROUP_OF = {kind: group for group, kinds in KIND_GROUPS.items() for kind in kinds}


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_quiet(clock: time, start: time, end: time) -> bool:
    """Quiet hours are [start, end) on the local clock; they may wrap midnight; none if equal."""
    if start == end:
        return False
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


@dataclass(frozen=True)
class Rules:
    """One graduate's preferences in their zone, and the wall-clock arithmetic on them."""

    zone: zoneinfo.ZoneInfo
    skill_times: tuple[str, ...]
    quiet_start: time
    quiet_end: time
    daily_cap: int
    off: frozenset[str]  # notification kinds switched off
    maintenance_weekly: bool
    leads: tuple[timedelta, ...]
    paused_until: datetime | None
    snoozes: tuple[tuple[str, datetime, datetime], ...]  # ("all" or group, asked at, until)

    @classmethod
    def of(cls, timezone: str, prefs: dict[str, Any]) -> Rules:
        return cls(
            zone=zoneinfo.ZoneInfo(timezone),
            skill_times=tuple(prefs["skill_times"]),
            quiet_start=parse_hhmm(prefs["quiet_start"]),
            quiet_end=parse_hhmm(prefs["quiet_end"]),
            daily_cap=prefs["daily_cap"],
            off=frozenset(
                kind
                for group, on in prefs["kinds"].items()
                if not on
                for kind in KIND_GROUPS.get(group, ())
            ),
            maintenance_weekly=prefs["maintenance_weekly"],
            leads=tuple(timedelta(minutes=m) for m in prefs["appointment_lead_minutes"]),
            paused_until=prefs["paused_until"],
            snoozes=tuple(
                (key, _instant(value["at"]), _instant(value["until"]))
                for key, value in sorted((prefs["snoozes"] or {}).items())
            ),
        )

    @property
    def slots(self) -> tuple[tuple[str, time], ...]:
        return tuple((slot, parse_hhmm(slot)) for slot in self.skill_times)

    def at(self, day: date, clock: time) -> datetime:
        """The instant of a local wall-clock time; a time skipped by DST comes an hour late."""
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    @property
    def has_quiet(self) -> bool:
        return self.quiet_start != self.quiet_end

    def is_quiet(self, instant: datetime) -> bool:
        return in_quiet(self.local(instant).time(), self.quiet_start, self.quiet_end)

    def out_of_quiet(self, instant: datetime) -> datetime:
        """`instant`, or the end of the quiet hours it falls in."""
        if not self.is_quiet(instant):
            return instant
        local = self.local(instant)
        day = local.date()
        if self.quiet_start > self.quiet_end and local.time() >= self.quiet_start:
            day += timedelta(days=1)
        return self.at(day, self.quiet_end)

    def expiry(self, instant: datetime) -> datetime:
        """When quiet hours next start after `instant`: a late dispatcher never sends in them."""
        if not self.has_quiet:
            return instant + NO_QUIET_EXPIRY
        day = self.local(instant).date()
        start = self.at(day, self.quiet_start)
        return start if start > instant else self.at(day + timedelta(days=1), self.quiet_start)

    def before_quiet(self, instant: datetime) -> datetime:
        """`instant`, or an hour before the quiet hours it falls in began (for nudges)."""
        if not self.is_quiet(instant):
            return instant
        local = self.local(instant)
        day = local.date()
        if self.quiet_start > self.quiet_end and local.time() < self.quiet_end:
            day -= timedelta(days=1)
        return self.at(day, self.quiet_start) - timedelta(hours=1)

    def snooze_for(self, kind: str) -> tuple[datetime, datetime] | None:
        found = [(at, until) for key, at, until in self.snoozes if key in ("all", GROUP_OF[kind])]
        return max(found, key=lambda snooze: snooze[1]) if found else None


def rules_for(row: Any) -> Rules:
    """Most graduates share a zone and the defaults: their Rules are built once."""
    if row.daily_cap is None:  # no row yet
        return _rules(row.timezone, None)
    prefs = {key: getattr(row, key) for key in DEFAULTS}
    return _rules(row.timezone, json.dumps(prefs, sort_keys=True, default=str))


@functools.lru_cache(maxsize=4096)
def _rules(timezone: str, prefs: str | None) -> Rules:
    values = DEFAULTS if prefs is None else json.loads(prefs)
    if values["paused_until"] is not None:
        values = {**values, "paused_until": datetime.fromisoformat(values["paused_until"])}
    return Rules.of(timezone, values)


def _instant(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
