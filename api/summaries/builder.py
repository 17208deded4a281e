"""Weekly summary content, built for a batch of graduates with a fixed number of queries.

Everything is read as of the end of the week (`period.end`), so a late or repeated run
builds the same content: flags too, those open then with their status and explanation as
they stood then. Only the flags raised since the week ended, listed apart with their
evidence, depend on when the summary is built. Substance-use (42 CFR Part 2) content is
built into its own section, attached only for a therapist whose consent names it: the BAM,
substance-use flags, and the check-in schedule as substance-use flags shaped it
(`for_reader`).
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.checkins.cadence import INTENSIFYING, REACH, Cadence, midnight
from api.checkins.models import CheckIn
from api.flags.models import Flag, FlagEvent
from api.graduates.models import Graduate
from api.groups.models import GroupAttendance
from api.plans.models import Appointment, AppointmentReport, PlanSkill, SkillPractice
from api.summaries import headline
from api.timeline import phase_for
from api.vocabulary import FlagKind, FlagSource, FlagStatus

TREND_WEEKS = 26
SCORED = ("phq9", "gad7")
FULL_FORMS = ("phq9", "gad7", "bam")
OPEN = (FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED)
ITEM9 = "phq9-9"
BAM_SUBSCALES = ("use", "risk", "protective")

# 42 CFR 2.32(a)(1), the notice that must accompany each disclosure made with consent.
PART2_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality "
    "rules (42 CFR part 2). These rules prohibit you from using or disclosing this record, or "
    "testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, except "
    "as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR "
    "2.64 or 2.65. In addition, the Federal rules prohibit you from making any other use or "
    "disclosure of this record unless at least one of the following applies: Further use or "
    "disclosure is expressly permitted by the written consent of the individual whose "
    "information is being disclosed in this record or as otherwise permitted by 42 CFR part "
    "2. You are a covered entity or business associate and have received the record for "
    "treatment, payment, or health care operations, or You have received the record from a "
    "covered entity or business associate as permitted by 45 CFR part 164, subparts A and E. "
    "A general authorization for the release of medical or other information is NOT "
    "sufficient to meet the required elements of written consent to further use or redisclose "
    "the record (see 42 CFR 2.31)."
)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


@dataclass
class Facts:
    """What one batch query set found about one graduate."""

    graduate: Graduate
    # PHQ-9, GAD-7 and BAM of the last 26 weeks by form, oldest first.
    history: dict[str, list[Any]] = field(default_factory=lambda: {f: [] for f in FULL_FORMS})
    week: list[Any] = field(default_factory=list)  # every check-in this week, oldest first
    last_check_in: datetime | None = None  # any non-Part 2 check-in before the week ended
    practised: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    appointments: dict[str, int] = field(default_factory=dict)
    group_attendance: dict[str, int] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)  # open at the week's end
    # What an open flag said at the week's end, if a repeat has updated it since.
    explained: dict[uuid.UUID, str] = field(default_factory=dict)
    since: list[Flag] = field(default_factory=list)  # raised after the week ended
    cited: dict[str, Any] = field(default_factory=dict)  # their evidence, by check-in id
    # Watch and step-up flags raised before the week ended (kind, source, raised_at,
    # resolved_at): month-1 intensity on each day the week's due dates reach.
    intensity: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Built:
    """A graduate's week: the shared content, and the Part 2 section kept apart."""

    graduate: Graduate
    content: dict[str, Any]
    substance_use: dict[str, Any] | None
    headline: headline.Headline


def load(
    session: Session, graduate_ids: list[uuid.UUID], period: Period, now: datetime | None = None
) -> dict[uuid.UUID, Facts]:
    """At most eleven queries for the whole batch, whatever its size; `now` (the build time,
    default the week's end) bounds the flags raised since the week ended."""
    # The newest non-Part 2 check-in, found per graduate by a backward walk of the index
    # (a GROUP BY max() would read every row of six months of dailies).
    last = (
        select(CheckIn.answered_at)
        .where(
            CheckIn.graduate_id == Graduate.id,
            CheckIn.part2.is_(False),
            CheckIn.answered_at < period.end,
        )
        .order_by(CheckIn.answered_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    facts = {}
    for graduate, last_at in session.execute(
        select(Graduate, last).where(Graduate.id.in_(graduate_ids))
    ):
        facts[graduate.id] = Facts(graduate, last_check_in=_aware(last_at))
    for row in session.execute(
        select(
            CheckIn.graduate_id,
            CheckIn.questionnaire,
            CheckIn.answered_at,
            CheckIn.score,
            CheckIn.band,
        )
        .where(
            CheckIn.graduate_id.in_(graduate_ids),
            CheckIn.questionnaire.in_(FULL_FORMS),
            CheckIn.answered_at >= period.end - timedelta(weeks=TREND_WEEKS),
            CheckIn.answered_at < period.end,
        )
        .order_by(CheckIn.answered_at)
    ):
        facts[row.graduate_id].history[row.questionnaire].append(row)
    for row in session.execute(
        select(
            CheckIn.id,
            CheckIn.graduate_id,
            CheckIn.questionnaire,
            CheckIn.answered_at,
            # Only the numbers a summary shows, extracted in the database: no JSON to parse.
            CheckIn.answers[ITEM9].as_integer().label("item9"),
            *(CheckIn.subscales[name].as_integer().label(name) for name in BAM_SUBSCALES),
            CheckIn.safety_positive,
            CheckIn.part2,
        )
        .where(
            CheckIn.graduate_id.in_(graduate_ids),
            CheckIn.answered_at >= period.start,
            CheckIn.answered_at < period.end,
        )
        .order_by(CheckIn.answered_at)
    ):
        facts[row.graduate_id].week.append(row)
    for graduate_id, skill_id, count in session.execute(
        select(SkillPractice.graduate_id, SkillPractice.skill_id, func.count())
        .where(
            SkillPractice.graduate_id.in_(graduate_ids),
            SkillPractice.done.is_(True),
            SkillPractice.practiced_at >= period.start,
            SkillPractice.practiced_at < period.end,
        )
        .group_by(SkillPractice.graduate_id, SkillPractice.skill_id)
    ):
        facts[graduate_id].practised[skill_id] = count
    for graduate_id, skill_id, target in session.execute(
        select(PlanSkill.graduate_id, PlanSkill.skill_id, PlanSkill.target_per_week).where(
            PlanSkill.graduate_id.in_(graduate_ids)
        )
    ):
        facts[graduate_id].targets[skill_id] = target
    for graduate_id, status, count in session.execute(
        select(Appointment.graduate_id, AppointmentReport.status, func.count())
        .join(Appointment, Appointment.id == AppointmentReport.appointment_id)
        .where(
            Appointment.graduate_id.in_(graduate_ids),
            AppointmentReport.occurrence_start >= period.start,
            AppointmentReport.occurrence_start < period.end,
        )
        .group_by(Appointment.graduate_id, AppointmentReport.status)
    ):
        facts[graduate_id].appointments[status] = count
    for graduate_id, status, count in session.execute(
        select(GroupAttendance.graduate_id, GroupAttendance.status, func.count())
        .where(
            GroupAttendance.graduate_id.in_(graduate_ids),
            GroupAttendance.occurrence_start >= period.start,
            GroupAttendance.occurrence_start < period.end,
        )
        .group_by(GroupAttendance.graduate_id, GroupAttendance.status)
    ):
        facts[graduate_id].group_attendance[status] = count
    for intensifying in session.execute(
        select(Flag.graduate_id, Flag.kind, Flag.source, Flag.raised_at, Flag.resolved_at).where(
            Flag.graduate_id.in_(graduate_ids),
            Flag.kind.in_(INTENSIFYING),
            Flag.raised_at < period.end,
            or_(Flag.resolved_at.is_(None), Flag.resolved_at >= period.start - REACH),
        )
    ):
        facts[intensifying.graduate_id].intensity.append(intensifying)
    _load_flags(session, facts, period, now or period.end)
    return facts


def _load_flags(
    session: Session, facts: dict[uuid.UUID, Facts], period: Period, now: datetime
) -> None:
    """Flags open at the week's end (resolved since or not), and those raised after it."""
    for flag in session.scalars(
        select(Flag)
        .where(
            Flag.graduate_id.in_(list(facts)),
            Flag.raised_at <= now,
            or_(Flag.resolved_at.is_(None), Flag.resolved_at >= period.end),
        )
        .order_by(Flag.raised_at, Flag.id)
    ):
        found = facts[flag.graduate_id]
        (found.flags if flag.raised_at < period.end else found.since).append(flag)
    at_end = {flag.id: found for found in facts.values() for flag in found.flags}
    if at_end:
        for flag_id, details in session.execute(
            select(FlagEvent.flag_id, FlagEvent.details)
            .where(
                FlagEvent.flag_id.in_(list(at_end)),
                FlagEvent.action == "updated",
                FlagEvent.at >= period.end,
            )
            .order_by(FlagEvent.id)
        ):
            was = (details or {}).get("was")
            if was and flag_id not in at_end[flag_id].explained:  # the first update after
                at_end[flag_id].explained[flag_id] = was["explanation"]
    cited = {
        uuid.UUID(check_in_id)
        for found in facts.values()
        for flag in found.since
        for check_in_id in flag.evidence
    }
    if cited:
        for row in session.execute(
            select(
                CheckIn.id,
                CheckIn.graduate_id,
                CheckIn.questionnaire,
                CheckIn.answered_at,
                CheckIn.score,
                CheckIn.band,
                CheckIn.subscales,
                CheckIn.part2,
            ).where(CheckIn.id.in_(cited))
        ):
            if row.graduate_id in facts:
                facts[row.graduate_id].cited[str(row.id)] = row


def build(facts: Facts, period: Period) -> Built:
    """One graduate's week, from facts already loaded: no queries."""
    graduate = facts.graduate
    zone = zoneinfo.ZoneInfo(graduate.timezone)
    graduated_at = midnight(graduate.graduation_date, zone)
    baseline = {"phq9": graduate.baseline_phq9, "gad7": graduate.baseline_gad7}
    mood_flags = [f for f in facts.flags if f.source != FlagSource.SUBSTANCE_USE]
    mood_week = [row for row in facts.week if not row.part2]

    series = {
        instrument: [
            headline.Score(graduated_at, baseline[instrument]),
            *(
                headline.Score(row.answered_at, row.score)
                for row in facts.history[instrument]
                if row.score is not None
            ),
        ]
        for instrument in SCORED
    }
    item9 = [
        {"answered_at": _iso(row.answered_at), "answer": row.item9}
        for row in mood_week
        if row.questionnaire == "phq9"
    ]
    not_safe = sum(1 for row in mood_week if row.questionnaire == "daily" and row.safety_positive)
    last = facts.last_check_in or graduated_at
    appointments = {
        status: facts.appointments.get(status, 0)
        for status in ("attended", "missed", "rescheduled")
    }
    chosen = headline.choose(
        safety_this_week=not_safe > 0 or any((entry["answer"] or 0) >= 1 for entry in item9),
        urgent_open=any(f.kind == FlagKind.URGENT for f in mood_flags),
        days_since_check_in=max(0, (period.end - last).days),
        ever_checked_in=facts.last_check_in is not None,
        series=series,
        baseline=baseline,
        appointments=appointments,
    )
    days = (period.end.astimezone(zone).date() - graduate.graduation_date).days
    daily_days = {
        row.answered_at.astimezone(zone).date() for row in mood_week if row.questionnaire == "daily"
    }
    # Without the Part 2 consent the schedule is as if substance-use flags did not exist.
    shared = _cadence(facts, part2=False)
    content = {
        "graduate": {
            "id": str(graduate.id),
            "display_name": graduate.display_name,
            "graduation_date": graduate.graduation_date.isoformat(),
            "days_since_graduation": days,
            "phase": phase_for(days),
            "timezone": graduate.timezone,
        },
        "period": {"start": _iso(period.start), "end": _iso(period.end)},
        "headline": {"text": chosen.text, "rule": chosen.rule},
        "check_ins": _check_ins(facts, period, shared, days, len(daily_days)),
        "scores": {
            instrument: _scores(facts, instrument, baseline[instrument], period)
            for instrument in SCORED
        },
        "safety": {
            "item9": item9,
            "item9_positive": sum(1 for entry in item9 if (entry["answer"] or 0) >= 1),
            "daily_not_safe": not_safe,
        },
        "skills": [
            {
                "skill_id": skill_id,
                "practised": facts.practised.get(skill_id, 0),
                "target_per_week": facts.targets.get(skill_id),
            }
            for skill_id in sorted(set(facts.targets) | set(facts.practised))
        ],
        "appointments": appointments,
        # Counts only: which group (its topic may reveal a condition) is not the point here.
        "group_attendance": {
            status: facts.group_attendance.get(status, 0)
            for status in ("present", "absent", "excused")
        },
        "flags": [_flag_at(f, period, facts) for f in mood_flags],
        "flags_since_week_ended": [
            _flag_since(f, facts, part2=False)
            for f in facts.since
            if f.source != FlagSource.SUBSTANCE_USE
        ],
    }
    own = _cadence(facts, part2=True)
    check_ins = _check_ins(facts, period, own, days, len(daily_days))
    section = _substance_use(
        facts, period, own, check_ins, changed=check_ins != content["check_ins"]
    )
    return Built(graduate, content, section, chosen)


def with_substance_use(built: Built, *, consented: bool) -> dict[str, Any]:
    """The content one therapist may see: the Part 2 section, with its notice, only under the
    consent that names it; otherwise nothing at all about substance use."""
    if not consented or built.substance_use is None:
        return built.content
    return {**built.content, "substance_use": built.substance_use}


def for_reader(content: dict[str, Any], *, part2: bool) -> dict[str, Any]:
    """A stored summary as its reader may see it now: under the Part 2 consent, the Part 2
    section and the check-in schedule every watch and step-up shaped; without it (withdrawn
    since the build), neither."""
    section = content.get("substance_use")
    if section is None:
        return content
    if not part2:
        return {key: value for key, value in content.items() if key != "substance_use"}
    section = dict(section)
    check_ins = section.pop("check_ins", content["check_ins"])
    return {**content, "check_ins": check_ins, "substance_use": section}


def _cadence(facts: Facts, *, part2: bool) -> Cadence:
    graduate = facts.graduate
    return Cadence.of(
        graduation_date=graduate.graduation_date,
        timezone=graduate.timezone,
        substance_use=graduate.substance_use,
        flags=facts.intensity,
        part2=part2,
    )


def _check_ins(
    facts: Facts, period: Period, cadence: Cadence, days: int, daily_completed: int
) -> dict[str, Any]:
    """The week's check-ins on `cadence`: PHQ-9 and GAD-7 due dates, the daily, intensity."""
    return {
        "forms": _forms(facts, period, cadence, ("phq9", "gad7")),
        "daily": {
            "days_completed": daily_completed,
            "days": 7,
            "expected": cadence.daily_expected(days),
        },
        "month1_intensity": cadence.intensified(days),
    }


def _substance_use(
    facts: Facts, period: Period, own: Cadence, check_ins: dict[str, Any], *, changed: bool
) -> dict[str, Any] | None:
    """`check_ins`: the schedule on the graduate's own cadence; `changed`: whether it differs
    from the one without substance-use flags (then it is Part 2 information too)."""
    bam = [row for row in facts.week if row.part2]
    flags = [f for f in facts.flags if f.source == FlagSource.SUBSTANCE_USE]
    since = [f for f in facts.since if f.source == FlagSource.SUBSTANCE_USE]
    if not (facts.graduate.substance_use or bam or flags or since or changed):
        return None
    return {
        "notice": PART2_NOTICE,
        "check_ins": check_ins,
        "forms": _forms(facts, period, own, ("bam",)),
        "bam": [
            {"answered_at": _iso(row.answered_at), **{k: getattr(row, k) for k in BAM_SUBSCALES}}
            for row in bam
            if row.questionnaire == "bam"
        ],
        "flags": [_flag_at(f, period, facts) for f in flags],
        "flags_since_week_ended": [_flag_since(f, facts, part2=True) for f in since],
    }


def _forms(
    facts: Facts, period: Period, cadence: Cadence, forms: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Each full form due this week: completed, missed (its window closed) or still open."""
    first = cadence.day_of(period.start)
    last = cadence.day_of(period.end - timedelta(microseconds=1))
    found = []
    for form in forms:
        answered = [row.answered_at for row in facts.history[form]]
        for day in cadence.due_dates(form, first, last):
            # A due date is the week's if its local midnight falls in it.
            if not period.start <= cadence.midnight(day) < period.end:
                continue
            since, closes = cadence.window(form, day)
            if any(since <= at < closes for at in answered):
                status = "completed"
            else:
                status = "missed" if closes <= period.end else "open"
            due_date = cadence.date_of(day).isoformat()
            found.append({"questionnaire": form, "due_date": due_date, "status": status})
    return found


def _scores(facts: Facts, instrument: str, baseline: int, period: Period) -> dict[str, Any]:
    points = [r for r in facts.history[instrument] if r.score is not None]
    latest = points[-1] if points else None
    before = [r for r in points if r.answered_at < period.start]
    new = latest is not None and latest.answered_at >= period.start
    return {
        "baseline": baseline,
        "latest": {
            "score": latest.score,
            "band": latest.band,
            "answered_at": _iso(latest.answered_at),
        }
        if latest
        else None,
        "change_vs_baseline": latest.score - baseline if latest else None,
        "change_vs_last_week": latest.score - before[-1].score
        if latest and new and before
        else None,
        "new_this_week": new,
        "trend": [{"answered_at": _iso(r.answered_at), "score": r.score} for r in points],
    }


def _flag_at(flag: Flag, period: Period, facts: Facts) -> dict[str, Any]:
    """A flag open at the week's end, as it stood then (later acknowledgement, escalation,
    resolution or update not shown)."""
    acknowledged_at = flag.acknowledged_at
    if acknowledged_at is not None and acknowledged_at >= period.end:
        acknowledged_at = None  # acknowledged after the week: open as it stood
    return {
        "id": str(flag.id),
        "kind": flag.kind,
        "status": FlagStatus.ACKNOWLEDGED if acknowledged_at else FlagStatus.OPEN,
        "explanation": facts.explained.get(flag.id, flag.explanation),
        "raised_at": _iso(flag.raised_at),
        "acknowledged_at": _iso(acknowledged_at) if acknowledged_at else None,
        "escalated": flag.escalated_at is not None and flag.escalated_at < period.end,
    }


def _flag_since(flag: Flag, facts: Facts, *, part2: bool) -> dict[str, Any]:
    """A flag raised after the week ended, as it stands now, with the check-ins it cites
    (answered after the week, so not among the week's scores); Part 2 ones only in `part2`."""
    evidence = [
        facts.cited[check_in_id]
        for check_in_id in flag.evidence
        if check_in_id in facts.cited and (part2 or not facts.cited[check_in_id].part2)
    ]
    return {
        "id": str(flag.id),
        "kind": flag.kind,
        "status": flag.status,
        "explanation": flag.explanation,
        "raised_at": _iso(flag.raised_at),
        "evidence": [
            {
                "id": str(row.id),
                "questionnaire": row.questionnaire,
                "answered_at": _iso(row.answered_at),
                "score": row.score,
                "band": row.band,
                "subscales": row.subscales,
            }
            for row in evidence
        ],
    }


def _iso(value: datetime) -> str:
    return value.isoformat()


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
