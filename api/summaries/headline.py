"""The one plain-language line at the top of a weekly summary, and the rules that choose it.

First rule that holds wins:
1. safety: a PHQ-9 item 9 answer of 1 or more, or "I'm not safe right now", this week, or an
   urgent flag still open.
2. stopped_checking_in: no check-in of any kind for 7 days or more before the week ended
   (counted from graduation when there has never been one).
3. worsening: PHQ-9 or GAD-7 has risen without a fall, by at least the change that matters
   (5 PHQ-9 points, 4 GAD-7), counting the discharge baseline as the first score; the weeks
   are those since the rise began.
4. missed_appointments: appointments reported missed this week and none attended.
5. improving: the latest score is that change or more below the discharge baseline.
6. no_scores_yet: no PHQ-9 or GAD-7 since graduation.
7. stable.
Substance use never drives the headline: the headline shows in lists and overviews, and
Part 2 records appear only in their own section, with their notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STOPPED_AFTER_DAYS = 7
CHANGE_THAT_MATTERS = {"phq9": 5, "gad7": 4}
WORDS = {"phq9": "depression", "gad7": "anxiety"}


@dataclass(frozen=True)
class Score:
    at: datetime
    score: int


@dataclass(frozen=True)
class Headline:
    text: str
    rule: str


def worsening_weeks(points: list[Score], *, instrument: str) -> int | None:
    """Weeks over which the scores rose without a fall by the change that matters, or None.

    `points` are oldest first, the discharge baseline first of all.
    """
    if len(points) < 2:
        return None
    start = len(points) - 1
    while start > 0 and points[start - 1].score <= points[start].score:
        start -= 1
    first, latest = points[start], points[-1]
    if latest.score - first.score < CHANGE_THAT_MATTERS[instrument]:
        return None
    return max(1, round((latest.at - first.at).days / 7))


def choose(
    *,
    safety_this_week: bool,
    urgent_open: bool,
    days_since_check_in: int,
    ever_checked_in: bool,
    series: dict[str, list[Score]],
    baseline: dict[str, int],
    appointments: dict[str, int],
) -> Headline:
    """`series`: per instrument, the discharge baseline then every score, oldest first."""
    if safety_this_week or urgent_open:
        return Headline("Safety answer needs follow-up", "safety")
    if days_since_check_in >= STOPPED_AFTER_DAYS:
        if ever_checked_in:
            return Headline(
                f"Stopped checking in {days_since_check_in} days ago", "stopped_checking_in"
            )
        return Headline(
            f"No check-ins since graduation {days_since_check_in} days ago", "stopped_checking_in"
        )
    worse = {
        instrument: weeks
        for instrument in ("phq9", "gad7")
        if (weeks := worsening_weeks(series.get(instrument, []), instrument=instrument))
    }
    if worse:
        what = " and ".join(WORDS[instrument] for instrument in worse)
        weeks = max(worse.values())
        return Headline(
            f"Worsening {what} over {weeks} week{'s' if weeks > 1 else ''}", "worsening"
        )
    missed = appointments.get("missed", 0)
    if missed and not appointments.get("attended", 0):
        return Headline(
            f"Missed {missed} appointment{'s' if missed > 1 else ''} this week",
            "missed_appointments",
        )
    scored = {i: points[-1].score for i, points in series.items() if len(points) > 1}
    if not scored:
        return Headline("No PHQ-9 or GAD-7 yet", "no_scores_yet")
    if any(baseline[i] - score >= CHANGE_THAT_MATTERS[i] for i, score in scored.items()):
        return Headline("Improving since discharge", "improving")
    return Headline("Stable", "stable")
