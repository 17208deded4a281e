"""Weekly summaries: when each therapist's are due, building them once, reading them back.

A summary is read only by the therapist it was built for, and only while the graduate's
consent to share check-ins with them stands and they are still on the care team: withdrawn
consent hides every old summary at once (404, absent from lists). The Part 2 section is
dropped at read time when the consent naming substance-use records is gone.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from api import access
from api.audit import service as audit
from api.auth import Actor
from api.checkins.models import CheckIn
from api.db import upsert
from api.errors import Invalid, NotFound
from api.flags import rules as flag_rules
from api.flags.models import Flag
from api.graduates.models import Graduate
from api.notifications import channels
from api.notifications.service import Planned, enqueue
from api.summaries import builder
from api.summaries.models import Summary, SummaryPreference, SummaryRun
from api.vocabulary import FlagSource, NotificationKind

BATCH = 500
DEFAULT_WEEKDAY = 0  # Monday
DEFAULT_TIME = time(8, 0)
DEFAULT_ZONE = "UTC"
# A slot is built if the job sees it within this long (a pause of the jobs process); older
# slots are skipped, so a changed preference never builds a week long gone.
GRACE = timedelta(days=1)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SUMMARY_NOT_FOUND = "No summary with that id."
# What the "summaries are ready" notice says: no name, score or diagnosis, nothing clinical.
BAND_RANK = {"minimal": 0, "mild": 1, "moderate": 2, "moderately_severe": 3, "severe": 4}


# --- preferences -----------------------------------------------------------------------


def preferences(*, session: Session, actor: Actor) -> dict[str, Any]:
    """The therapist's slot; without a saved one, Monday 08:00 in the zone most of their
    caseload lives in (UTC for an empty caseload)."""
    saved = session.scalar(
        select(SummaryPreference).where(SummaryPreference.therapist_user_id == actor.user_id)
    )
    if saved is not None:
        return _slot_view(saved.weekday, saved.local_time, saved.timezone, default=False)
    zones = _caseload_zones(session, [actor.user_id]).get(actor.user_id)
    return _slot_view(DEFAULT_WEEKDAY, DEFAULT_TIME, _usual_zone(zones), default=True)


def set_preferences(
    *, session: Session, actor: Actor, weekday: str, local_time: time, timezone: str, now: datetime
) -> dict[str, Any]:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid("Unknown time zone.", errors={"timezone": ["not an IANA zone"]}) from None
    saved = session.scalar(
        select(SummaryPreference).where(SummaryPreference.therapist_user_id == actor.user_id)
    )
    if saved is None:
        saved = SummaryPreference(therapist_user_id=actor.user_id)
        session.add(saved)
    saved.weekday = WEEKDAYS.index(weekday)
    saved.local_time = local_time.replace(second=0, microsecond=0, tzinfo=None)
    saved.timezone = timezone
    saved.updated_at = now
    session.flush()
    return _slot_view(saved.weekday, saved.local_time, saved.timezone, default=False)


def _slot_view(weekday: int, local_time: time, timezone: str, *, default: bool) -> dict[str, Any]:
    return {
        "weekday": WEEKDAYS[weekday],
        "local_time": local_time,
        "timezone": timezone,
        "default": default,
    }


def _usual_zone(zones: Counter[str] | None) -> str:
    if not zones:
        return DEFAULT_ZONE
    return sorted(zones.items(), key=lambda item: (-item[1], item[0]))[0][0]


# --- the weekly job --------------------------------------------------------------------


@dataclass(frozen=True)
class BuildResult:
    therapist_user_ids: list[uuid.UUID]  # who got new summaries this run
    summaries: int


def run_weekly(*, session: Session, now: datetime) -> int:
    """The jobs process's entry point (every 15 minutes): how many summaries it built. Each
    therapist with new summaries is told so through the push pipeline."""
    built = build_due(session=session, now=now).summaries
    enqueue(session, items=notices_due(session=session, now=now), now=now)
    return built


def build_due(*, session: Session, now: datetime) -> BuildResult:
    """Build this week's summaries for every therapist whose slot has come and who has none
    yet for it. Claiming the therapist-week first (a unique key) makes a re-run, or a second
    process, build nothing twice. Queries: a few per run, plus a fixed number per batch."""
    pairs = _consenting_pairs(session)
    by_therapist: dict[uuid.UUID, list[tuple[uuid.UUID, bool]]] = defaultdict(list)
    for therapist_id, graduate_id, part2 in pairs:
        by_therapist[therapist_id].append((graduate_id, part2))
    if not by_therapist:
        return BuildResult([], 0)
    slots = {
        therapist_id: slot
        for therapist_id, slot in _latest_slots(session, list(by_therapist), now).items()
        if slot[1].end > now - GRACE
    }
    if not slots:
        return BuildResult([], 0)
    claimed = _claim(session, slots, now)
    windows: dict[builder.Period, list[uuid.UUID]] = defaultdict(list)
    for therapist_id in claimed:
        windows[slots[therapist_id][1]].append(therapist_id)
    counts: Counter[uuid.UUID] = Counter()
    for period, therapist_ids in windows.items():
        wanted = [(t, g, part2) for t in therapist_ids for g, part2 in by_therapist[t]]
        graduate_ids = sorted({g for _, g, _ in wanted})
        for first in range(0, len(graduate_ids), BATCH):
            batch = set(graduate_ids[first : first + BATCH])
            counts.update(
                _build_batch(
                    session,
                    [pair for pair in wanted if pair[1] in batch],
                    {t: slots[t][0] for t in therapist_ids},
                    period,
                    now,
                )
            )
    if claimed:
        session.execute(
            update(SummaryRun),
            [{"id": run_id, "summaries": counts[t]} for t, run_id in claimed.items()],
        )
    return BuildResult(sorted(t for t in claimed if counts[t]), sum(counts.values()))


def _consenting_pairs(
    session: Session, therapist_user_id: uuid.UUID | None = None
) -> list[tuple[uuid.UUID, uuid.UUID, bool]]:
    """(therapist, graduate, Part 2 consent) for every care-team therapist with consent."""
    reach = access.THERAPIST_REACH
    statement = select(reach.c.user_id, reach.c.graduate_id, reach.c.substance_use).where(
        reach.c.clinical.is_(True)
    )
    if therapist_user_id is not None:
        statement = statement.where(reach.c.user_id == therapist_user_id)
    return [(row[0], row[1], bool(row[2])) for row in session.execute(statement)]


def _caseload_zones(session: Session, therapist_ids: list[uuid.UUID]) -> dict[uuid.UUID, Counter]:
    reach = access.THERAPIST_REACH
    zones: dict[uuid.UUID, Counter] = defaultdict(Counter)
    for therapist_id, zone, count in session.execute(
        select(reach.c.user_id, Graduate.timezone, func.count())
        .join(Graduate, Graduate.id == reach.c.graduate_id)
        .where(reach.c.user_id.in_(therapist_ids))
        .group_by(reach.c.user_id, Graduate.timezone)
    ):
        zones[therapist_id][zone] += count
    return zones


def _latest_slots(
    session: Session, therapist_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, tuple[date, builder.Period]]:
    """Each therapist's most recent slot at or before `now`: its local date and the week
    it closes."""
    saved = {
        p.therapist_user_id: p
        for p in session.scalars(
            select(SummaryPreference).where(SummaryPreference.therapist_user_id.in_(therapist_ids))
        )
    }
    unsaved = [t for t in therapist_ids if t not in saved]
    zones = _caseload_zones(session, unsaved) if unsaved else {}
    slots = {}
    for therapist_id in therapist_ids:
        pref = saved.get(therapist_id)
        weekday, at, zone_name = (
            (pref.weekday, pref.local_time, pref.timezone)
            if pref
            else (DEFAULT_WEEKDAY, DEFAULT_TIME, _usual_zone(zones.get(therapist_id)))
        )
        slots[therapist_id] = latest_slot(now, weekday=weekday, at=at, timezone=zone_name)
    return slots


def latest_slot(
    now: datetime, *, weekday: int, at: time, timezone: str
) -> tuple[date, builder.Period]:
    """The last weekday-at-time in `timezone` not after `now`; the week is the 7 days before."""
    zone = zoneinfo.ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    day -= timedelta(days=(day.weekday() - weekday) % 7)
    end = datetime.combine(day, at, tzinfo=zone)
    if end > now:
        day -= timedelta(days=7)
        end = datetime.combine(day, at, tzinfo=zone)
    start = datetime.combine(day - timedelta(days=7), at, tzinfo=zone)
    return day, builder.Period(start.astimezone(now.tzinfo), end.astimezone(now.tzinfo))


def _claim(
    session: Session, slots: dict[uuid.UUID, tuple[date, builder.Period]], now: datetime
) -> dict[uuid.UUID, uuid.UUID]:
    """Therapist-weeks this run takes on (therapist -> run id); already built ones are skipped."""
    done = {
        (therapist_id, week_of)
        for therapist_id, week_of in session.execute(
            select(SummaryRun.therapist_user_id, SummaryRun.week_of).where(
                SummaryRun.therapist_user_id.in_(list(slots)),
                SummaryRun.week_of >= min(week_of for week_of, _ in slots.values()),
            )
        )
    }
    fresh = [
        {
            "id": uuid.uuid4(),
            "therapist_user_id": therapist_id,
            "week_of": week_of,
            "built_at": now,
            "summaries": 0,
            "noticed_at": None,
        }
        for therapist_id, (week_of, _) in slots.items()
        if (therapist_id, week_of) not in done
    ]
    if not fresh:
        return {}
    statement = (
        upsert(session, SummaryRun.__table__)
        .values(fresh)
        .on_conflict_do_nothing(index_elements=["therapist_user_id", "week_of"])
        .returning(SummaryRun.therapist_user_id, SummaryRun.id)
    )
    # Result has keys(), so dict() would take it for a mapping: unpack the rows.
    return {therapist_id: run_id for therapist_id, run_id in session.execute(statement)}


def _build_batch(
    session: Session,
    pairs: list[tuple[uuid.UUID, uuid.UUID, bool]],
    week_of: dict[uuid.UUID, date],
    period: builder.Period,
    now: datetime,
) -> Counter[uuid.UUID]:
    graduate_ids = sorted({g for _, g, _ in pairs})
    facts = builder.load(session, graduate_ids, period, now)
    built = {
        graduate_id: builder.build(found, period)
        for graduate_id, found in facts.items()
        if found.graduate.graduation_date <= period.end.date()  # not graduated yet: nothing
    }
    rows = [
        {
            "id": uuid.uuid4(),
            "therapist_user_id": therapist_id,
            "graduate_id": graduate_id,
            "program_id": built[graduate_id].graduate.program_id,
            "week_of": week_of[therapist_id],
            "period_start": period.start,
            "period_end": period.end,
            "built_at": now,
            "read_at": None,
            "headline": built[graduate_id].headline.text,
            "headline_rule": built[graduate_id].headline.rule,
            "content": builder.with_substance_use(built[graduate_id], consented=part2),
        }
        for therapist_id, graduate_id, part2 in pairs
        if graduate_id in built
    ]
    if not rows:
        return Counter()
    statement = (
        upsert(session, Summary.__table__)  # Core: no ORM bookkeeping for 500 rows
        .on_conflict_do_nothing(index_elements=["therapist_user_id", "graduate_id", "week_of"])
        .returning(Summary.__table__.c.therapist_user_id)
    )
    return Counter(session.execute(statement, rows).scalars())


def notices_due(*, session: Session, now: datetime) -> list[Planned]:
    """A "your summary is ready" push per therapist-week that built any, handed over once,
    and an email to a therapist with a verified email channel. Its words come from the
    kind: no graduate's name, nothing clinical."""
    runs = list(
        session.scalars(
            select(SummaryRun)
            .where(SummaryRun.noticed_at.is_(None), SummaryRun.summaries > 0)
            .order_by(SummaryRun.built_at, SummaryRun.id)
            .with_for_update(skip_locked=True)
        )
    )
    for run in runs:
        run.noticed_at = now
    by_email = channels.verified(session, {run.therapist_user_id for run in runs})
    return [
        Planned(
            run.therapist_user_id,
            kind,
            f"summaries:{run.week_of.isoformat()}",
            now,
            link="summaries",
        )
        for run in runs
        for kind in (NotificationKind.SUMMARY_READY, NotificationKind.SUMMARY_READY_EMAIL)
        if kind == NotificationKind.SUMMARY_READY or run.therapist_user_id in by_email
    ]


# --- reading ---------------------------------------------------------------------------


def _readable(actor: Actor) -> Select:
    """Summaries built for the caller whose graduate still shares check-ins with them and
    still has them on the care team; with the Part 2 consent as it stands now."""
    reach = access.THERAPIST_REACH
    return (
        select(Summary, reach.c.substance_use.label("share_substance_use"), Graduate.display_name)
        .join(
            reach,
            and_(
                reach.c.graduate_id == Summary.graduate_id,
                reach.c.user_id == Summary.therapist_user_id,
            ),
        )
        .join(Graduate, Graduate.id == Summary.graduate_id)
        .where(Summary.therapist_user_id == actor.user_id, reach.c.clinical.is_(True))
    )


def page_for(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID | None,
    offset: int,
    limit: int,
    now: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """Unread first, then newest; each graduate on the page is audited."""
    statement = _readable(actor)
    if graduate_id is not None:
        statement = statement.where(Summary.graduate_id == graduate_id)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.execute(
        statement.order_by(
            case((Summary.read_at.is_(None), 0), else_=1),
            Summary.week_of.desc(),
            Summary.built_at.desc(),
            Graduate.display_name,
            Summary.id,
        )
        .offset(offset)
        .limit(limit)
    ).all()
    for seen in {(row.Summary.graduate_id, row.Summary.program_id) for row in rows}:
        audit.record(
            session=session,
            actor=actor,
            action="summary.list",
            graduate_id=seen[0],
            program_id=seen[1],
            outcome="allowed",
            now=now,
        )
    return [_item(row.Summary, row.display_name) for row in rows], int(total or 0)


def get(*, session: Session, actor: Actor, summary_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The full summary; 404 unless it is the caller's and consent still stands. Audited."""
    row = session.execute(_readable(actor).where(Summary.id == summary_id)).first()
    if row is None:
        raise NotFound(SUMMARY_NOT_FOUND)
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=row.Summary.graduate_id,
        need=access.Need.CLINICAL,
        action="summary.read",
        now=now,
    )
    # Part 2 consent withdrawn since: nothing of it, the schedule it shaped included.
    content = builder.for_reader(row.Summary.content, part2=found.sees_substance_use)
    return {**_item(row.Summary, row.display_name), "content": content}


def mark_read(
    *, session: Session, actor: Actor, summary_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    found = get(session=session, actor=actor, summary_id=summary_id, now=now)
    summary = session.get_one(Summary, summary_id)
    if summary.read_at is None:
        summary.read_at = now
        found["read_at"] = now
    return found


def newer_data(*, session: Session, summary_id: uuid.UUID) -> bool:
    """Whether a check-in of the summary's week arrived after it was built (phones submit up
    to 7 days late): then a rebuild would say more. Call after `get` has checked access."""
    summary = session.get_one(Summary, summary_id)
    late = select(CheckIn.id).where(
        CheckIn.graduate_id == summary.graduate_id,
        CheckIn.answered_at >= summary.period_start,
        CheckIn.answered_at < summary.period_end,
        CheckIn.submitted_at > summary.built_at,
    )
    return session.scalar(late.limit(1)) is not None


def rebuild(
    *, session: Session, actor: Actor, summary_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    """Build the summary's week again from what is known now (still as of the week's end),
    for its therapist; the read mark stays. Audited as a read."""
    get(session=session, actor=actor, summary_id=summary_id, now=now)
    row = session.execute(_readable(actor).where(Summary.id == summary_id)).one()
    summary = row.Summary
    period = builder.Period(_utc(summary.period_start), _utc(summary.period_end))
    facts = builder.load(session, [summary.graduate_id], period)
    built = builder.build(facts[summary.graduate_id], period)
    summary.content = builder.with_substance_use(built, consented=bool(row.share_substance_use))
    summary.headline, summary.headline_rule = built.headline.text, built.headline.rule
    summary.built_at = now
    return {**_item(summary, row.display_name), "content": summary.content}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _item(summary: Summary, display_name: str) -> dict[str, Any]:
    return {
        "id": summary.id,
        "graduate_id": summary.graduate_id,
        "display_name": display_name,
        "week_of": summary.week_of,
        "period_start": summary.period_start,
        "period_end": summary.period_end,
        "headline": summary.headline,
        "headline_rule": summary.headline_rule,
        "built_at": summary.built_at,
        "read_at": summary.read_at,
    }


def caseload(*, session: Session, actor: Actor, now: datetime) -> list[dict[str, Any]]:
    """The caller's consenting graduates, most in need first: the most severe open flag they
    may see, then the worse of the latest PHQ-9 and GAD-7 bands. Each one listed is audited."""
    pairs = {g: part2 for _, g, part2 in _consenting_pairs(session, actor.user_id)}
    if not pairs:
        return []
    # The same reach as a subquery, not a list of ids: one short statement text whatever
    # the caseload (a 200-id IN list costs more to send and parse than to run).
    ids = access.therapist_graduates(actor.user_id, access.Need.CLINICAL)
    graduates = {g.id: g for g in session.scalars(select(Graduate).where(Graduate.id.in_(ids)))}
    flags: dict[uuid.UUID, list[Flag]] = defaultdict(list)
    for flag in session.scalars(
        select(Flag).where(Flag.graduate_id.in_(ids), Flag.status.in_(builder.OPEN))
    ):
        if flag.source != FlagSource.SUBSTANCE_USE or pairs[flag.graduate_id]:
            flags[flag.graduate_id].append(flag)
    latest_at = (
        select(
            CheckIn.graduate_id,
            CheckIn.questionnaire,
            func.max(CheckIn.answered_at).label("answered_at"),
        )
        .where(CheckIn.graduate_id.in_(ids), CheckIn.questionnaire.in_(builder.SCORED))
        .group_by(CheckIn.graduate_id, CheckIn.questionnaire)
        .subquery()
    )
    latest: dict[uuid.UUID, dict[str, Any]] = defaultdict(dict)
    for row in session.execute(
        select(CheckIn.graduate_id, CheckIn.questionnaire, CheckIn.score, CheckIn.band).join(
            latest_at,
            and_(
                CheckIn.graduate_id == latest_at.c.graduate_id,
                CheckIn.questionnaire == latest_at.c.questionnaire,
                CheckIn.answered_at == latest_at.c.answered_at,
            ),
        )
    ):
        latest[row.graduate_id][row.questionnaire] = {"score": row.score, "band": row.band}
    last_check_in = dict(
        session.execute(
            select(CheckIn.graduate_id, func.max(CheckIn.answered_at))
            .where(
                CheckIn.graduate_id.in_(ids),
                or_(
                    CheckIn.part2.is_(False),
                    CheckIn.graduate_id.in_(
                        access.therapist_graduates(actor.user_id, access.Need.SUBSTANCE_USE)
                    ),
                ),
            )
            .group_by(CheckIn.graduate_id)
        ).all()
    )
    newest = {}
    for row in session.execute(_readable(actor).order_by(Summary.week_of, Summary.built_at)):
        newest[row.Summary.graduate_id] = row.Summary
    ranked = []
    for graduate_id, graduate in graduates.items():
        audit.record(
            session=session,
            actor=actor,
            action="summary.caseload",
            graduate_id=graduate_id,
            program_id=graduate.program_id,
            outcome="allowed",
            now=now,
        )
        worst = max(flags[graduate_id], key=lambda f: flag_rules.SEVERITY[f.kind], default=None)
        bands = [BAND_RANK.get(v["band"], 0) for v in latest[graduate_id].values() if v["band"]]
        summary = newest.get(graduate_id)
        rank = (
            -(flag_rules.SEVERITY[worst.kind] if worst else 0),
            -max(bands, default=-1),
            graduate.display_name,
            str(graduate_id),
        )
        ranked.append(
            (
                rank,
                {
                    "graduate_id": graduate_id,
                    "display_name": graduate.display_name,
                    "open_flag": worst.kind if worst else None,
                    "open_flags": len(flags[graduate_id]),
                    "phq9": latest[graduate_id].get("phq9"),
                    "gad7": latest[graduate_id].get("gad7"),
                    "latest_summary_id": summary.id if summary else None,
                    "headline": summary.headline if summary else None,
                    # What the console's caseload shows beside the API's fields.
                    "graduation_date": graduate.graduation_date,
                    "timezone": graduate.timezone,
                    "baseline_phq9": graduate.baseline_phq9,
                    "baseline_gad7": graduate.baseline_gad7,
                    "last_check_in_at": last_check_in.get(graduate_id),
                    "flags_by_kind": Counter(flag.kind for flag in flags[graduate_id]),
                },
            )
        )
    return [item for _, item in sorted(ranked, key=lambda pair: pair[0])]
