"""A summary as one self-contained, printable HTML page: inline CSS, an inline SVG chart, no
scripts, nothing fetched from anywhere."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from api.content.loader import ContentLibrary

WIDTH, HEIGHT, PAD = 640, 260, 36
Y_MAX = 27
COLOURS = {"phq9": "#1f5fa8", "gad7": "#b5531b"}
NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7"}
# Plain words for the codes a summary stores: a reader sees "Month 1", never "month1".
PLAIN = {
    "month1": "month 1",
    "months2_3": "months 2\u20133",
    "months4_6": "months 4\u20136",
    "maintenance": "maintenance",
    "urgent": "Urgent",
    "step_up": "Step-up review",
    "watch": "Watch",
    "disengaged": "Disengaged",
    "contact_request": "Asked to talk",
    "open": "Open",
    "acknowledged": "Acknowledged",
    "resolved": "Resolved",
    "completed": "Done",
    "missed": "Missed",
    "due": "Due",
}


def plain(code: str | None) -> str:
    return "" if code is None else PLAIN.get(code, code.replace("_", " "))


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;margin:2em auto;
max-width:760px;padding:0 1em}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em;border-bottom:1px solid
#ccc}.headline{font-size:1.2em;font-weight:600;padding:.5em .7em;background:#f3f1e8;
border-left:4px solid #8a6d00}table{border-collapse:collapse;width:100%}th,td{text-align:left;
padding:.25em .5em;border-bottom:1px solid #e3e3e3}.muted{color:#666}.notice{font-size:.85em;
border:1px solid #999;padding:.6em;background:#fafafa}svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}.headline{background:none}}
"""


def render(view: dict[str, Any], library: ContentLibrary) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>Weekly summary: {escape(view['display_name'])}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<h1>{escape(view['display_name'])}</h1>",
            fragment(view, library),
            "</body></html>",
        ]
    )


def fragment(view: dict[str, Any], library: ContentLibrary) -> str:
    """Everything below the name: the console puts it in its own page, under its own CSS."""
    content = view["content"]
    person = content["graduate"]
    parts = [
        f'<p class="muted">Week {_day(content["period"]["start"])} to '
        f"{_day(content['period']['end'])} · day {person['days_since_graduation']} after "
        f"graduation ({escape(plain(person['phase']))})</p>",
        f'<p class="headline">{escape(view["headline"])}</p>',
        "<h2>PHQ-9 and GAD-7</h2>",
        chart(content["scores"], library),
        _scores_table(content["scores"]),
        "<h2>Check-ins this week</h2>",
        _check_ins(content["check_ins"]),
        "<h2>Safety answers</h2>",
        _safety(content["safety"]),
        "<h2>Skills practised</h2>",
        _skills(content["skills"], library),
        "<h2>Appointments</h2>",
        _appointments(content["appointments"]),
        "<h2>Group attendance</h2>",
        _group_attendance(content["group_attendance"]),
        "<h2>Flags open at the week's end</h2>",
        _flags(content["flags"]),
        *_since(content.get("flags_since_week_ended")),
    ]
    if "substance_use" in content:
        parts += _substance_use(content["substance_use"])
    parts.append(f'<p class="muted">Built {_day(view["built_at"].isoformat())}.</p>')
    return "\n".join(parts)


def chart(scores: dict[str, Any], library: ContentLibrary) -> str:
    """Both scores over time, with each discharge baseline and the band edges behind them."""
    stamps = [
        datetime.fromisoformat(p["answered_at"])
        for instrument in NAMES
        for p in scores[instrument]["trend"]
    ]
    if not stamps:
        return '<p class="muted">No PHQ-9 or GAD-7 scores yet.</p>'
    first, last = min(stamps), max(stamps)
    span = max((last - first).total_seconds(), 1.0)

    def x(at: str) -> float:
        moment = datetime.fromisoformat(at)
        return PAD + (WIDTH - 2 * PAD) * (moment - first).total_seconds() / span

    def y(score: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * score / Y_MAX

    shapes = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-label="PHQ-9 and GAD-7 scores over time">',
        "<title>PHQ-9 and GAD-7 scores over time, with discharge baselines and band edges</title>",
        f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}" '
        'fill="#fff" stroke="#bbb"/>',
    ]
    edges = sorted(
        {
            band.min
            for form in filter(None, map(library.questionnaire, NAMES))
            for band in form.bands
            if band.min > 0
        }
    )
    for edge in edges:
        shapes.append(
            f'<line class="band-edge" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(edge):.1f}" '
            f'y2="{y(edge):.1f}" stroke="#ddd" stroke-dasharray="2 3"/>'
            f'<text x="{PAD - 4}" y="{y(edge) + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#888">{edge}</text>'
        )
    for offset, (instrument, name) in enumerate(NAMES.items()):
        colour, data = COLOURS[instrument], scores[instrument]
        base = y(data["baseline"])
        shapes.append(
            f'<line class="baseline" x1="{PAD}" x2="{WIDTH - PAD}" y1="{base:.1f}" y2="{base:.1f}" '
            f'stroke="{colour}" stroke-opacity=".5" stroke-dasharray="6 4"/>'
        )
        points = " ".join(f"{x(p['answered_at']):.1f},{y(p['score']):.1f}" for p in data["trend"])
        if points:
            shapes.append(
                f'<polyline class="series" data-instrument="{instrument}" points="{points}" '
                f'fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        shapes.extend(
            f'<circle cx="{x(p["answered_at"]):.1f}" cy="{y(p["score"]):.1f}" r="3" '
            f'fill="{colour}"/>'
            for p in data["trend"]
        )
        shapes.append(
            f'<text x="{PAD + 8 + offset * 280}" y="{PAD - 10}" font-size="11" fill="{colour}">'
            f"{name} (dashed: discharge baseline {data['baseline']})</text>"
        )
    shapes.append(
        f'<text x="{PAD}" y="{HEIGHT - 12}" font-size="10" fill="#666">{_day(first.isoformat())}'
        f'</text><text x="{WIDTH - PAD}" y="{HEIGHT - 12}" font-size="10" fill="#666" '
        f'text-anchor="end">{_day(last.isoformat())}</text></svg>'
    )
    return "".join(shapes)


def _scores_table(scores: dict[str, Any]) -> str:
    rows = []
    for instrument, name in NAMES.items():
        data = scores[instrument]
        latest = data["latest"]
        rows.append(
            [
                name,
                f"{latest['score']} ({latest['band']}), {_day(latest['answered_at'])}"
                if latest
                else "none yet",
                str(data["baseline"]),
                _signed(data["change_vs_baseline"]),
                _signed(data["change_vs_last_week"]),
            ]
        )
    return _table(["", "latest", "discharge", "vs discharge", "vs last week"], rows)


def _check_ins(check_ins: dict[str, Any]) -> str:
    daily = check_ins["daily"]
    lines = [
        f"<p>Daily check-in: {daily['days_completed']} of {daily['days']} days"
        f"{' (expected)' if daily['expected'] else ' (optional in this phase)'}.</p>"
    ]
    if check_ins["forms"]:
        lines.append(
            _table(
                ["form", "due", "status"],
                [
                    [
                        NAMES.get(f["questionnaire"], f["questionnaire"]),
                        _day(f["due_date"]),
                        plain(f["status"]),
                    ]
                    for f in check_ins["forms"]
                ],
            )
        )
    else:
        lines.append('<p class="muted">No PHQ-9 or GAD-7 was due this week.</p>')
    return "".join(lines)


def _safety(safety: dict[str, Any]) -> str:
    if not safety["item9"] and not safety["daily_not_safe"]:
        return '<p class="muted">No PHQ-9 this week and no "not safe" answers.</p>'
    answers = ", ".join(str(entry["answer"]) for entry in safety["item9"]) or "none"
    return (
        f"<p>PHQ-9 item 9 answers: {escape(answers)} ({safety['item9_positive']} positive). "
        f'"I\'m not safe right now": {safety["daily_not_safe"]}.</p>'
    )


def _skills(skills: list[dict[str, Any]], library: ContentLibrary) -> str:
    if not skills:
        return '<p class="muted">No skills in the plan.</p>'
    return _table(
        ["skill", "practised", "weekly target"],
        [
            [
                _skill_title(s["skill_id"], library),
                str(s["practised"]),
                str(s["target_per_week"] or ""),
            ]
            for s in skills
        ],
    )


def _skill_title(skill_id: str, library: ContentLibrary) -> str:
    """The library's title ("Thought record"); a program's own skill reads as its words."""
    skill = library.skill(skill_id)
    return skill.title if skill else skill_id.replace("-", " ").capitalize()


def _appointments(appointments: dict[str, int]) -> str:
    return _table(["attended", "missed", "rescheduled"], [[str(v) for v in appointments.values()]])


def _flags(flags: list[dict[str, Any]]) -> str:
    if not flags:
        return '<p class="muted">None open.</p>'
    return _table(
        ["kind", "status", "raised", "why"],
        [
            [plain(f["kind"]), plain(f["status"]), _day(f["raised_at"]), f["explanation"]]
            for f in flags
        ],
    )


def _substance_use(section: dict[str, Any]) -> list[str]:
    return [
        "<h2>Substance use (42 CFR Part 2)</h2>",
        f'<p class="notice">{escape(section["notice"])}</p>',
        _table(
            ["BAM", "use", "risk", "protective"],
            [
                [
                    _day(b["answered_at"]),
                    str(b.get("use")),
                    str(b.get("risk")),
                    str(b.get("protective")),
                ]
                for b in section["bam"]
            ],
        )
        if section["bam"]
        else '<p class="muted">No BAM this week.</p>',
        _flags(section["flags"]),
        *_since(section.get("flags_since_week_ended")),
    ]


def _since(flags: list[dict[str, Any]] | None) -> list[str]:
    """Flags raised after the week ended (summaries built before this section had none)."""
    if not flags:
        return []
    return [
        "<h3>Raised since this week ended</h3>",
        _table(
            ["kind", "status", "raised", "why", "evidence"],
            [
                [
                    f["kind"],
                    f["status"],
                    _day(f["raised_at"]),
                    f["explanation"],
                    "; ".join(_evidence(e) for e in f["evidence"]) or "-",
                ]
                for f in flags
            ],
        ),
    ]


def _evidence(check_in: dict[str, Any]) -> str:
    name = NAMES.get(check_in["questionnaire"], check_in["questionnaire"])
    score = "" if check_in["score"] is None else f" {check_in['score']}"
    return f"{name}{score} ({_day(check_in['answered_at'])})"


def _group_attendance(attendance: dict[str, int]) -> str:
    return _table(["present", "absent", "excused"], [[str(v) for v in attendance.values()]])


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _signed(value: int | None) -> str:
    return "-" if value is None else f"{value:+d}"


def _day(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%b %-d, %Y")
