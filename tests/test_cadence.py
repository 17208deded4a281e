"""The cadence, tested once (api/checkins/cadence.py): due dates by phase and form, windows,
month-1 intensity on the days a watch or step-up was open, and the reader's Part 2 view.
The due list, the missed-form rule, the weekly summary and the planner all use it; their
own tests go through the API."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from api.checkins.cadence import FULL_FORMS, REACH, Cadence
from tests import factories

GRADUATION = date(2026, 1, 5)
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def at(day: int, hour: int = 12) -> datetime:
    """Local `hour` o'clock in Chicago on day `day` after graduation."""
    return datetime.combine(
        GRADUATION + timedelta(days=day), datetime.min.time().replace(hour=hour), tzinfo=CHICAGO
    ).astimezone(UTC)


def flag(kind: str, raised: datetime, resolved: datetime | None = None, source: str = "mood"):
    return SimpleNamespace(kind=kind, source=source, raised_at=raised, resolved_at=resolved)


def cadence(*flags, substance_use: bool = True, part2: bool = True) -> Cadence:
    return Cadence.of(
        graduation_date=GRADUATION,
        timezone="America/Chicago",
        substance_use=substance_use,
        flags=flags,
        part2=part2,
    )


def due_days(c: Cadence, form: str, last: int = 240) -> list[int]:
    return list(c.due_dates(form, 0, last))


def test_due_dates_by_phase_and_form():
    c = cadence()
    four_weeks_after_month_6 = [210, 238]
    fortnightly = list(range(42, 183, 14))
    assert due_days(c, "phq9") == [7, 14, 21, 28, *fortnightly, *four_weeks_after_month_6]
    assert due_days(c, "gad7") == due_days(c, "phq9")
    # The BAM: weekly in months 1-3, every 2 weeks after, also after month 6.
    assert due_days(c, "bam") == [*range(7, 92, 7), *range(98, 241, 14)]
    assert {196, 210, 224} <= set(due_days(c, "bam"))


def test_no_bam_outside_substance_use_care_or_without_the_part2_consent():
    assert cadence(substance_use=False).forms == ("phq9", "gad7")
    assert cadence(part2=False).forms == ("phq9", "gad7")
    assert cadence().forms == FULL_FORMS
    assert due_days(cadence(part2=False), "bam") == []


def test_a_window_opens_after_the_previous_due_date_and_closes_three_days_on():
    c = cadence()
    opened, closes = c.window("phq9", 56)
    assert opened == c.midnight(43)  # the day after day 42: answering early is never a miss
    assert closes == c.midnight(59)
    assert c.window("phq9", 7)[0] == c.midnight(1)


def test_intensity_is_in_force_on_the_days_a_watch_or_step_up_was_open():
    watch = flag("watch", at(100, 15), at(113, 9))
    c = cadence(watch)
    assert not c.intensified(99)
    assert c.intensified(100) and c.intensified(113)  # any moment of the day counts
    assert not c.intensified(114)
    # Weekly while it was open: day 105 falls due, day 112's window opens after it.
    assert [d for d in due_days(c, "phq9") if 98 <= d <= 126] == [98, 105, 112, 126]
    assert c.window("phq9", 112)[0] == c.midnight(106)
    assert c.window("phq9", 126)[0] == c.midnight(113)
    assert c.daily_expected(105) and not c.daily_expected(120)
    # A watch still open keeps it going; a contact request or disengaged flag does not.
    assert c.intensified(113) and cadence(flag("step_up", at(100))).intensified(400)
    assert not cadence(flag("disengaged", at(100)), flag("contact_request", at(100))).intensified(
        105
    )


def test_without_part2_consent_substance_use_flags_change_nothing():
    watch = flag("watch", at(100), source="substance_use")
    assert cadence(watch).intensified(105)
    hidden = cadence(watch, part2=False)
    assert not hidden.intensified(105)
    assert hidden == cadence(part2=False)  # the same cadence as without the flag at all


def test_the_two_latest_closed_due_dates():
    c = cadence(flag("watch", at(100)))
    assert c.last_closed("phq9", 115) == (112, 105)
    assert c.last_closed("phq9", 114) == (105, 98)
    assert cadence().last_closed("bam", 213) == (210, 196)
    assert cadence().last_closed("phq9", 9) == ()


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Chicago", "Pacific/Pago_Pago"])
def test_reach_covers_every_window_the_missed_form_rule_reads(zone):
    """Answers and flags are read from REACH back: early enough for every answer that could
    satisfy one of the two latest closed due dates, in any phase and time zone, at any hour,
    with or without month-1 intensity."""
    local = zoneinfo.ZoneInfo(zone)
    for hour, minute in ((0, 1), (9, 0), (23, 59)):
        now = factories.NOW.astimezone(local).replace(hour=hour, minute=minute)
        for days in range(800):
            graduated = now.date() - timedelta(days=days)
            for flags in ((), (flag("watch", now - timedelta(days=30), now - timedelta(days=9)),)):
                c = Cadence.of(
                    graduation_date=graduated, timezone=zone, substance_use=True, flags=flags
                )
                for form in c.forms:
                    for due_day in c.last_closed(form, days):
                        assert c.window(form, due_day)[0] >= now - REACH, (days, form, due_day)
