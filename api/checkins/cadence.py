"""The check-in cadence (DOMAIN.md), written once: which full forms fall due on which day
since graduation, each due date's window, and month-1 intensity while a watch or step-up
is open. The due list, the missed-form rule, the weekly summary and the reminder planner
all ask this module, so what the graduate was asked and what counts as missed agree.

Day 0 is graduation day in the graduate's zone. PHQ-9 and GAD-7: weekly in month 1 (to
day 28), every 2 weeks to month 6 (day 182), every 4 weeks after. BAM: weekly in months
1-3 (to day 91), every 2 weeks after, for good. A full form's window opens the day after
the previous due date (answering early is never a miss) and closes at local midnight
WINDOW_DAYS after its due date.

Month-1 intensity (daily expected, every full form weekly) is in force on a local day when
a watch or step-up flag was open at some moment of it: a due date counts on the cadence in
force when it fell due, so a watch closed later does not unmake the due dates it added.

Who reads also decides which flags count (42 CFR Part 2): the graduate's own cadence (and
staff's, and a therapist's with the Part 2 consent) follows every watch and step-up; a
reader without that consent gets the cadence as if substance-use flags and the BAM did not
exist (`Cadence.of(..., part2=False)`).
"""

from __future__ import annotations

import functools
import itertools
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from api.timeline import phase_for
from api.vocabulary import FlagKind, FlagSource

WINDOW_DAYS = 3
WEEKLY_UNTIL = {"phq9": 28, "gad7": 28, "bam": 91}  # form -> last day of its weekly cadence
FULL_FORMS = tuple(WEEKLY_UNTIL)
PART2_FORMS = frozenset({"bam"})
MONTH_6 = 182  # the last day of the fortnightly PHQ-9 and GAD-7 cadence
EVERY_FOUR_WEEKS = 28
INTENSIFYING = (FlagKind.WATCH, FlagKind.STEP_UP)
SUBSTANCE_USE = FlagSource.SUBSTANCE_USE
# How far back an answer or a flag can matter to the cadence of today: the older of the two
# latest closed due dates is at most WINDOW_DAYS + 2 x 28 days back and its window opens at
# most 28 days before it (plus a day for time zones).
REACH = timedelta(days=WINDOW_DAYS + 3 * EVERY_FOUR_WEEKS + 1)


class Span(NamedTuple):
    """When one watch or step-up was open: raised, until resolved (None: still open)."""

    raised_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class Cadence:
    """One graduate's cadence as one reader may see it. Hashable: a cohort (same graduation
    day, zone and forms, no flags) shares cached answers."""

    graduation_date: date
    zone: zoneinfo.ZoneInfo
    forms: tuple[str, ...]
    spans: tuple[Span, ...] = ()

    @classmethod
    def of(
        cls,
        *,
        graduation_date: date,
        timezone: str,
        substance_use: bool,
        flags: Iterable[Any] = (),
        part2: bool = True,
    ) -> Cadence:
        """`flags`: rows with kind, source, raised_at and resolved_at (any flags; only watch
        and step-up count). `part2`: whether the reader may see substance-use care."""
        forms = tuple(
            form for form in FULL_FORMS if form not in PART2_FORMS or (substance_use and part2)
        )
        spans = tuple(
            sorted(
                (
                    Span(flag.raised_at, flag.resolved_at)
                    for flag in flags
                    if flag.kind in INTENSIFYING and (part2 or flag.source != SUBSTANCE_USE)
                ),
                key=_order,
            )
        )
        return cls(graduation_date, zoneinfo.ZoneInfo(timezone), forms, spans)

    def day_of(self, instant: datetime) -> int:
        """Days since graduation of an instant's local day."""
        return (instant.astimezone(self.zone).date() - self.graduation_date).days

    def date_of(self, day: int) -> date:
        return self.graduation_date + timedelta(days=day)

    def midnight(self, day: int) -> datetime:
        """The start of local day `day` since graduation, in UTC."""
        return midnight(self.date_of(day), self.zone)

    def intensified(self, day: int) -> bool:
        """Month-1 intensity in force on local day `day`: a watch or step-up open during it."""
        if not self.spans:
            return False
        start, end = self.midnight(day), self.midnight(day + 1)
        return any(
            span.raised_at < end and (span.resolved_at is None or span.resolved_at > start)
            for span in self.spans
        )

    def daily_expected(self, day: int) -> bool:
        """The daily check-in is expected in month 1 and under month-1 intensity."""
        return phase_for(day) == "month1" or self.intensified(day)

    def is_due(self, form: str, day: int) -> bool:
        if day <= 0 or form not in self.forms:
            return False
        if day % 7 == 0 and (day <= WEEKLY_UNTIL[form] or self.intensified(day)):
            return True
        if day <= MONTH_6 or form in PART2_FORMS:
            return day % 14 == 0
        return (day - MONTH_6) % EVERY_FOUR_WEEKS == 0

    def previous_due(self, form: str, day: int) -> int:
        """The due date before day `day`, or 0 (graduation) if there is none."""
        return next((d for d in range(day - 1, 0, -1) if self.is_due(form, d)), 0)

    def window(self, form: str, day: int) -> tuple[datetime, datetime]:
        """When an answer satisfies the due date on `day`: from the day after the previous
        due date until its window closes."""
        return _window(self, form, day)

    def last_closed(self, form: str, today: int, count: int = 2) -> tuple[int, ...]:
        """The `count` latest due dates whose window has closed by local day `today`, newest
        first (fewer early on)."""
        return _last_closed(self, form, today, count)

    def due_dates(self, form: str, first: int, last: int) -> Iterator[int]:
        """Due dates from day `first` to day `last`, both included."""
        return (day for day in range(max(first, 1), last + 1) if self.is_due(form, day))


def _order(span: Span) -> tuple[datetime, bool, datetime]:
    """A total order (None sorts last), so equal histories make equal, hashable cadences."""
    return span.raised_at, span.resolved_at is None, span.resolved_at or span.raised_at


@functools.lru_cache(maxsize=65536)
def _window(cadence: Cadence, form: str, day: int) -> tuple[datetime, datetime]:
    return (
        cadence.midnight(cadence.previous_due(form, day) + 1),
        cadence.midnight(day + WINDOW_DAYS),
    )


@functools.lru_cache(maxsize=16384)
def _last_closed(cadence: Cadence, form: str, today: int, count: int) -> tuple[int, ...]:
    closed = (d for d in range(today - WINDOW_DAYS, 0, -1) if cadence.is_due(form, d))
    return tuple(itertools.islice(closed, count))


def midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
