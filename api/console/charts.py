"""Trend charts drawn on the server as inline SVG: no chart script, readable without
JavaScript, printable. Colours come from console.css classes (the CSP allows no inline
style)."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

from api.console import text
from api.content.loader import ContentLibrary

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 240, 44, 16, 16, 36


def trend_svg(trend: dict[str, Any], library: ContentLibrary, zone: str) -> dict[str, Any]:
    """The chart of one instrument (`checkins.trends`' reply): its points over time, the
    discharge baseline (dashed) and each band's lower edge, labelled."""
    instrument = trend["instrument"]
    name = text.label(text.FORMS, instrument)
    # The BAM has no total: its chart follows the use subscale (days of use in the week).
    series = "use" if instrument == "bam" else None
    if series:
        name = f"{name}: {series}"
    points = [
        {**p, "score": (p["subscales"] or {}).get(series) if series else p["score"]}
        for p in trend["points"]
    ]
    points = [p for p in points if p["score"] is not None]
    top = max([band["max"] for band in trend["bands"]] + [p["score"] for p in points] + [1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(score: float) -> float:
        return TOP + plot_h * (1 - score / top)

    if points:
        first, last = points[0]["answered_at"], points[-1]["answered_at"]
        span = max((last - first).total_seconds(), 1.0)

        def x(moment: Any) -> float:
            if len(points) == 1:
                return LEFT + plot_w / 2
            return LEFT + plot_w * (moment - first).total_seconds() / span

    shapes = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="chart-{instrument}-title">',
        f'<title id="chart-{instrument}-title">{escape(name)} scores over time'
        + (f", discharge baseline {trend['baseline']}" if trend["baseline"] is not None else "")
        + "</title>",
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for band in trend["bands"]:
        if band["min"] <= 0:
            continue
        edge = y(band["min"])
        shapes.append(
            f'<line class="band-edge" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{edge:.1f}" '
            f'y2="{edge:.1f}"/><text class="axis" x="{LEFT - 6}" y="{edge + 4:.1f}" '
            f'text-anchor="end">{band["min"]}</text>'
            f'<text class="band-name" x="{WIDTH - RIGHT - 4}" y="{edge - 3:.1f}" '
            f'text-anchor="end">{escape(text.label(text.BANDS, band["band"]))}</text>'
        )
    if trend["baseline"] is not None:
        base = y(trend["baseline"])
        shapes.append(
            f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base:.1f}" '
            f'y2="{base:.1f}"/><text class="baseline-label" x="{LEFT + 4}" y="{base - 4:.1f}">'
            f"discharge {trend['baseline']}</text>"
        )
    if points:
        line = " ".join(f"{x(p['answered_at']):.1f},{y(p['score']):.1f}" for p in points)
        shapes.append(f'<polyline class="series" points="{line}"/>')
        shapes.extend(
            f'<circle class="point" cx="{x(p["answered_at"]):.1f}" cy="{y(p["score"]):.1f}" '
            f'r="3.5"><title>{p["score"]} on {escape(text.when(p["answered_at"], zone))}</title>'
            "</circle>"
            for p in points
        )
        shapes.append(
            f'<text class="axis" x="{LEFT}" y="{HEIGHT - 12}">'
            f"{escape(text.local_day(first, zone))}</text>"
            f'<text class="axis" x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end">'
            f"{escape(text.local_day(last, zone))}</text>"
        )
    else:
        shapes.append(
            f'<text class="axis" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" '
            f'text-anchor="middle">No {escape(name)} yet</text>'
        )
    shapes.append("</svg>")
    return {
        "instrument": instrument,
        "name": name,
        "svg": Markup("".join(shapes)),
        "points": points,
        "baseline": trend["baseline"],
    }
