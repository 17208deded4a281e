"""Load content/ once per app and check every field; a bad file stops the app from starting.

    content/skills/<id>.md            YAML front matter + markdown body
    content/psychoeducation/<id>.md   YAML front matter + markdown body
    content/questionnaires/<id>.yaml  items, answer sets, scoring

The same checks validate a program's own skills (`parse_skill`), so a skill written
through the API and a skill in a file obey one set of rules.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SKILL_CATEGORIES = ("cbt", "dbt", "mindfulness", "grounding", "relapse-prevention")
PHASES = ("month1", "months2_3", "months4_6", "maintenance")
# The check-in contract (API.md) depends on these; the app does not start without them.
REQUIRED_QUESTIONNAIRES = ("phq9", "gad7", "daily", "bam", "who5")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
LINK_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_RANGE_OPTIONS = 101
TITLE_MAX, SUMMARY_MAX, BODY_MAX = 120, 300, 20_000
LIST_MAX, LIST_ENTRY_MAX = 20, 40
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)

SKILL_FIELDS = ("id", "version", "title", "category", "minutes", "phases", "tags", "summary")
CARD_FIELDS = ("id", "version", "title", "phase", "minutes", "tags", "summary")
QUESTIONNAIRE_FIELDS = (
    "id",
    "version",
    "title",
    "name",
    "recall",
    "standalone",
    "part2",
    "loinc",
    "answer_sets",
    "items",
    "scoring",
)
ITEM_FIELDS = ("link_id", "text", "answers", "loinc", "required")
OPTION_FIELDS = ("value", "label", "code")
SCORING_FIELDS = ("total", "bands", "subscales", "safety")


# --- what the rest of the app sees ------------------------------------------------------


@dataclass(frozen=True)
class Skill:
    id: str
    version: int
    title: str
    category: str
    minutes: int
    phases: tuple[str, ...]
    tags: tuple[str, ...]
    summary: str
    body: str
    source: str = "library"  # "program": a program's own skill, not in content/


@dataclass(frozen=True)
class Card:
    """A psychoeducation card."""

    id: str
    version: int
    title: str
    phase: str
    minutes: int
    tags: tuple[str, ...]
    summary: str
    body: str


@dataclass(frozen=True)
class AnswerOption:
    value: int
    label: str | None
    code: str | None  # a LOINC answer code (LA…) where one exists


@dataclass(frozen=True)
class Item:
    link_id: str
    text: str
    answers: tuple[AnswerOption, ...]  # ranges are expanded, one option per integer
    required: bool
    loinc: str | None

    @property
    def values(self) -> frozenset[int]:
        return frozenset(option.value for option in self.answers)

    @property
    def min_value(self) -> int:
        return min(self.values)

    @property
    def max_value(self) -> int:
        return max(self.values)


@dataclass(frozen=True)
class Band:
    band: str
    min: int
    max: int


@dataclass(frozen=True)
class Subscale:
    name: str
    items: tuple[str, ...]
    positive_at: int | None


@dataclass(frozen=True)
class SafetyRule:
    """An answer that is a positive safety screen, whatever the total."""

    item: str
    at_least: int | None
    at_most: int | None

    def positive(self, value: int) -> bool:
        if self.at_least is not None:
            return value >= self.at_least
        return self.at_most is not None and value <= self.at_most


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: str
    title: str
    name: str | None
    recall: str | None
    standalone: bool  # False: asked only inside another form (PHQ-2, GAD-2 inside daily)
    part2: bool  # 42 CFR Part 2 substance-use record
    loinc_panel: str | None
    loinc_total: str | None
    items: tuple[Item, ...]
    total: tuple[str, ...] | None
    bands: tuple[Band, ...]
    subscales: tuple[Subscale, ...]
    safety: tuple[SafetyRule, ...]

    def item(self, link_id: str) -> Item | None:
        return next((item for item in self.items if item.link_id == link_id), None)

    def band_for(self, score: int) -> str | None:
        return next((b.band for b in self.bands if b.min <= score <= b.max), None)


class ContentLibrary:
    """Every loaded, checked content file, looked up by id. Immutable once built."""

    def __init__(
        self,
        *,
        skills: Iterable[Skill],
        cards: Iterable[Card],
        questionnaires: Iterable[Questionnaire],
        version: str,
    ) -> None:
        self._skills = {skill.id: skill for skill in sorted(skills, key=lambda s: s.id)}
        self._cards = {card.id: card for card in sorted(cards, key=lambda c: c.id)}
        self._questionnaires = {q.id: q for q in sorted(questionnaires, key=lambda q: q.id)}
        self.version = version  # a digest of every file: changes whenever any content does

    def skill(self, skill_id: str) -> Skill | None:
        return self._skills.get(skill_id)

    def skills(self) -> tuple[Skill, ...]:
        return tuple(self._skills.values())

    def card(self, card_id: str) -> Card | None:
        return self._cards.get(card_id)

    def cards(self) -> tuple[Card, ...]:
        return tuple(self._cards.values())

    def card_for_phase(self, phase: str) -> Card | None:
        """The phase's introduction card (tagged "phase"), else its first card by id."""
        cards = [card for card in self._cards.values() if card.phase == phase]
        return next((c for c in cards if "phase" in c.tags), cards[0] if cards else None)

    def questionnaire(self, questionnaire_id: str) -> Questionnaire | None:
        return self._questionnaires.get(questionnaire_id)

    def questionnaires(self) -> tuple[Questionnaire, ...]:
        return tuple(self._questionnaires.values())


# --- errors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    source: str  # the file (or "program skill")
    field: str  # dotted path inside it, e.g. "scoring.bands[2].min"
    message: str


class ContentError(RuntimeError):
    """Content that fails its checks; the app refuses to start with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [f"{p.source}: {p.field}: {p.message}" for p in problems]
        super().__init__("Content is invalid:\n  " + "\n  ".join(lines))

    def by_field(self) -> dict[str, list[str]]:
        fields: dict[str, list[str]] = {}
        for problem in self.problems:
            fields.setdefault(problem.field, []).append(problem.message)
        return fields


class _Check:
    """Collects problems for one source, so one run reports everything wrong in a file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.source, field, message))

    def known_fields(self, data: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> None:
        allowed = set(allowed)
        for key in data:
            if key not in allowed:
                self.fail(f"{prefix}{key}", "unknown field")

    def mapping(self, value: Any, field: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(field, f"must be a mapping, not {_kind(value)}")
            return None
        return value

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        field: str,
        *,
        required: bool = True,
        max_length: int = 1000,
    ) -> str | None:
        if key not in data or data[key] is None:
            if required:
                self.fail(field, "is required")
            return None
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"must be non-empty text, not {_kind(value)}")
            return None
        if len(value.strip()) > max_length:
            self.fail(field, f"must be at most {max_length} characters")
            return None
        return value.strip()

    def integer(
        self,
        data: Mapping[str, Any],
        key: str,
        field: str,
        *,
        low: int | None = None,
        high: int | None = None,
        required: bool = True,
    ) -> int | None:
        if key not in data or data[key] is None:
            if required:
                self.fail(field, "is required")
            return None
        value = data[key]
        if not _is_int(value):
            self.fail(field, f"must be an integer, not {_kind(value)}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(field, f"must be between {low} and {high}, not {value}")
            return None
        return value

    def boolean(self, data: Mapping[str, Any], key: str, field: str, *, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, not {_kind(value)}")
            return default
        return value

    def text_list(
        self,
        data: Mapping[str, Any],
        key: str,
        field: str,
        *,
        choices: tuple[str, ...] | None = None,
        non_empty: bool = False,
    ) -> tuple[str, ...]:
        if key not in data or data[key] is None:
            self.fail(field, "is required")
            return ()
        value = data[key]
        if not isinstance(value, list):
            self.fail(field, f"must be a list, not {_kind(value)}")
            return ()
        if non_empty and not value:
            self.fail(field, "must not be empty")
        if len(value) > LIST_MAX:
            self.fail(field, f"must have at most {LIST_MAX} entries")
            return ()
        found: list[str] = []
        for index, entry in enumerate(value):
            if not isinstance(entry, str) or not entry.strip():
                self.fail(f"{field}[{index}]", f"must be non-empty text, not {_kind(entry)}")
            elif len(entry) > LIST_ENTRY_MAX:
                self.fail(f"{field}[{index}]", f"must be at most {LIST_ENTRY_MAX} characters")
            elif choices is not None and entry not in choices:
                self.fail(f"{field}[{index}]", f"must be one of {', '.join(choices)}")
            elif entry in found:
                self.fail(f"{field}[{index}]", f"{entry!r} is listed twice")
            else:
                found.append(entry)
        return tuple(found)

    def raise_if_failed(self) -> None:
        if self.problems:
            raise ContentError(self.problems)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {value}".lower()
    if isinstance(value, (str, int, float)):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


# --- skills and cards ------------------------------------------------------------------


def parse_skill(
    meta: Any, body: Any, *, source: str, expected_id: str | None = None, origin: str = "library"
) -> Skill:
    """A Skill from front-matter fields and a markdown body, or ContentError naming each field."""
    check = _Check(source)
    data = check.mapping(meta, "front matter")
    if data is None:
        check.raise_if_failed()
    assert data is not None
    check.known_fields(data, SKILL_FIELDS, "")
    skill_id = _check_id(check, data, expected_id)
    version = check.integer(data, "version", "version", low=1, high=1_000_000)
    title = check.text(data, "title", "title", max_length=TITLE_MAX)
    category = check.text(data, "category", "category")
    if category is not None and category not in SKILL_CATEGORIES:
        check.fail("category", f"must be one of {', '.join(SKILL_CATEGORIES)}, not {category!r}")
    minutes = check.integer(data, "minutes", "minutes", low=1, high=60)
    phases = check.text_list(data, "phases", "phases", choices=PHASES, non_empty=True)
    tags = check.text_list(data, "tags", "tags")
    summary = check.text(data, "summary", "summary", max_length=SUMMARY_MAX)
    text = _check_body(check, body)
    check.raise_if_failed()
    return Skill(
        id=str(skill_id),
        version=int(version or 0),
        title=str(title),
        category=str(category),
        minutes=int(minutes or 0),
        phases=phases,
        tags=tags,
        summary=str(summary),
        body=str(text),
        source=origin,
    )


def parse_card(meta: Any, body: Any, *, source: str, expected_id: str | None = None) -> Card:
    check = _Check(source)
    data = check.mapping(meta, "front matter")
    if data is None:
        check.raise_if_failed()
    assert data is not None
    check.known_fields(data, CARD_FIELDS, "")
    card_id = _check_id(check, data, expected_id)
    version = check.integer(data, "version", "version", low=1, high=1_000_000)
    title = check.text(data, "title", "title", max_length=TITLE_MAX)
    phase = check.text(data, "phase", "phase")
    if phase is not None and phase not in PHASES:
        check.fail("phase", f"must be one of {', '.join(PHASES)}, not {phase!r}")
    minutes = check.integer(data, "minutes", "minutes", low=1, high=60)
    tags = check.text_list(data, "tags", "tags")
    summary = check.text(data, "summary", "summary", max_length=SUMMARY_MAX)
    text = _check_body(check, body)
    check.raise_if_failed()
    return Card(
        id=str(card_id),
        version=int(version or 0),
        title=str(title),
        phase=str(phase),
        minutes=int(minutes or 0),
        tags=tags,
        summary=str(summary),
        body=str(text),
    )


def _check_id(check: _Check, data: Mapping[str, Any], expected: str | None) -> str | None:
    value = check.text(data, "id", "id")
    if value is None:
        return None
    if not ID_PATTERN.match(value):
        check.fail("id", "must be 1-64 lowercase letters, digits and dashes")
    elif expected is not None and value != expected:
        check.fail("id", f"must match the file name: {expected!r}, not {value!r}")
    return value


def _check_body(check: _Check, body: Any) -> str | None:
    if not isinstance(body, str) or not body.strip():
        check.fail("body", "must be non-empty markdown")
        return None
    if len(body) > BODY_MAX:
        check.fail("body", f"must be at most {BODY_MAX} characters")
        return None
    return body.strip() + "\n"


def _front_matter(path: Path, source: str) -> tuple[Any, str]:
    text = path.read_text(encoding="utf-8")
    found = FRONT_MATTER.match(text)
    if found is None:
        raise ContentError(
            [Problem(source, "front matter", "must open the file between two '---' lines")]
        )
    return _yaml(found.group(1), source, "front matter"), found.group(2)


# --- questionnaires --------------------------------------------------------------------


def parse_questionnaire(data: Any, *, source: str, expected_id: str | None = None) -> Questionnaire:
    check = _Check(source)
    top = check.mapping(data, "questionnaire")
    if top is None:
        check.raise_if_failed()
    assert top is not None
    check.known_fields(top, QUESTIONNAIRE_FIELDS, "")
    questionnaire_id = _check_id(check, top, expected_id)
    version = top.get("version")
    if not isinstance(version, str) or not version.strip():
        check.fail("version", f"must be a quoted version string, not {_kind(version)}")
    title = check.text(top, "title", "title")
    name = check.text(top, "name", "name", required=False)
    recall = check.text(top, "recall", "recall", required=False)
    standalone = check.boolean(top, "standalone", "standalone", default=True)
    part2 = check.boolean(top, "part2", "part2", default=False)
    panel = total_code = None
    if "loinc" in top:
        loinc = check.mapping(top["loinc"], "loinc")
        if loinc is not None:
            check.known_fields(loinc, ("panel", "total"), "loinc.")
            panel = check.text(loinc, "panel", "loinc.panel", required=False)
            total_code = check.text(loinc, "total", "loinc.total", required=False)

    answer_sets = _answer_sets(check, top.get("answer_sets", {}))
    items = _items(check, top.get("items"), answer_sets)
    by_link = {item.link_id: item for item in items}
    total, bands, subscales, safety = _scoring(check, top.get("scoring"), by_link)
    check.raise_if_failed()
    return Questionnaire(
        id=str(questionnaire_id),
        version=str(version).strip(),
        title=str(title),
        name=name,
        recall=recall,
        standalone=standalone,
        part2=part2,
        loinc_panel=panel,
        loinc_total=total_code,
        items=tuple(items),
        total=total,
        bands=bands,
        subscales=subscales,
        safety=safety,
    )


def _answer_sets(check: _Check, value: Any) -> dict[str, tuple[AnswerOption, ...]]:
    sets = check.mapping(value, "answer_sets")
    if sets is None:
        return {}
    found: dict[str, tuple[AnswerOption, ...]] = {}
    for name, options in sets.items():
        field = f"answer_sets.{name}"
        if not isinstance(options, list) or not options:
            check.fail(field, "must be a non-empty list of {value, label, code}")
            continue
        parsed: list[AnswerOption] = []
        for index, raw in enumerate(options):
            option = check.mapping(raw, f"{field}[{index}]")
            if option is None:
                continue
            check.known_fields(option, OPTION_FIELDS, f"{field}[{index}].")
            number = check.integer(option, "value", f"{field}[{index}].value")
            label = check.text(option, "label", f"{field}[{index}].label")
            code = check.text(option, "code", f"{field}[{index}].code", required=False)
            if number is None:
                continue
            if any(p.value == number for p in parsed):
                check.fail(f"{field}[{index}].value", f"{number} is listed twice")
                continue
            parsed.append(AnswerOption(value=number, label=label, code=code))
        found[str(name)] = tuple(parsed)
    return found


def _items(
    check: _Check, value: Any, answer_sets: Mapping[str, tuple[AnswerOption, ...]]
) -> list[Item]:
    if not isinstance(value, list) or not value:
        check.fail("items", f"must be a non-empty list, not {_kind(value)}")
        return []
    items: list[Item] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(value):
        field = f"items[{index}]"
        data = check.mapping(raw, field)
        if data is None:
            continue
        check.known_fields(data, ITEM_FIELDS, f"{field}.")
        link_id = check.text(data, "link_id", f"{field}.link_id")
        if link_id is not None and not LINK_ID_PATTERN.match(link_id):
            check.fail(f"{field}.link_id", "must be 1-64 lowercase letters, digits and dashes")
            link_id = None
        if link_id is not None and link_id in seen:
            check.fail(
                f"{field}.link_id", f"duplicate link_id {link_id!r} (also items[{seen[link_id]}])"
            )
            link_id = None
        text = check.text(data, "text", f"{field}.text")
        loinc = check.text(data, "loinc", f"{field}.loinc", required=False)
        required = check.boolean(data, "required", f"{field}.required", default=True)
        options = _item_answers(check, data.get("answers"), f"{field}.answers", answer_sets)
        if link_id is None:
            continue
        seen[link_id] = index
        if text is None or not options:
            continue
        items.append(
            Item(
                link_id=link_id,
                text=text,
                answers=options,
                required=required,
                loinc=loinc,
            )
        )
    return items


def _item_answers(
    check: _Check, value: Any, field: str, answer_sets: Mapping[str, tuple[AnswerOption, ...]]
) -> tuple[AnswerOption, ...]:
    if isinstance(value, str):
        if value not in answer_sets:
            known = ", ".join(answer_sets) or "none defined"
            check.fail(field, f"names no answer set: {value!r} (answer_sets: {known})")
            return ()
        return answer_sets[value]
    if not isinstance(value, Mapping):
        check.fail(field, "must name an answer set or be a {min, max} range")
        return ()
    check.known_fields(value, ("min", "max", "labels"), f"{field}.")
    low = check.integer(value, "min", f"{field}.min")
    high = check.integer(value, "max", f"{field}.max")
    if low is None or high is None:
        return ()
    if high < low or high - low + 1 > MAX_RANGE_OPTIONS:
        check.fail(field, f"min..max must be 1 to {MAX_RANGE_OPTIONS} values, not {low}..{high}")
        return ()
    labels: dict[int, str] = {}
    raw_labels = value.get("labels", {})
    if check.mapping(raw_labels, f"{field}.labels") is not None:
        for key, label in raw_labels.items():
            if not _is_int(key) or not low <= key <= high:
                check.fail(f"{field}.labels", f"{key!r} is not a value between {low} and {high}")
            elif not isinstance(label, str) or not label.strip():
                check.fail(f"{field}.labels.{key}", f"must be non-empty text, not {_kind(label)}")
            else:
                labels[key] = label.strip()
    options = tuple(
        AnswerOption(value=v, label=labels.get(v), code=None) for v in range(low, high + 1)
    )
    return options


def _scoring(
    check: _Check, value: Any, items: Mapping[str, Item]
) -> tuple[tuple[str, ...] | None, tuple[Band, ...], tuple[Subscale, ...], tuple[SafetyRule, ...]]:
    scoring = check.mapping(value, "scoring")
    if scoring is None:
        return None, (), (), ()
    check.known_fields(scoring, SCORING_FIELDS, "scoring.")
    total = None
    if "total" in scoring:
        total = _link_list(check, scoring["total"], "scoring.total", items)
    bands = _bands(check, scoring, total, items)
    subscales: list[Subscale] = []
    raw_subscales = scoring.get("subscales", {})
    if check.mapping(raw_subscales, "scoring.subscales") is not None:
        for name, raw in raw_subscales.items():
            field = f"scoring.subscales.{name}"
            spec = check.mapping(raw, field)
            if spec is None:
                continue
            check.known_fields(spec, ("items", "positive_at"), f"{field}.")
            links = _link_list(check, spec.get("items"), f"{field}.items", items)
            positive_at = check.integer(spec, "positive_at", f"{field}.positive_at", required=False)
            subscales.append(Subscale(name=str(name), items=links, positive_at=positive_at))
    return total, bands, tuple(subscales), _safety(check, scoring.get("safety", []), items)


def _link_list(check: _Check, value: Any, field: str, items: Mapping[str, Item]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        check.fail(field, f"must be a non-empty list of link_ids, not {_kind(value)}")
        return ()
    links: list[str] = []
    for index, link in enumerate(value):
        if not isinstance(link, str) or link not in items:
            check.fail(f"{field}[{index}]", f"no item with link_id {link!r}")
        elif link in links:
            check.fail(f"{field}[{index}]", f"{link!r} is listed twice")
        else:
            links.append(link)
    return tuple(links)


def _bands(
    check: _Check,
    scoring: Mapping[str, Any],
    total: tuple[str, ...] | None,
    items: Mapping[str, Item],
) -> tuple[Band, ...]:
    if total is None:
        if "bands" in scoring:
            check.fail("scoring.bands", "bands need a scoring.total to apply to")
        return ()
    raw = scoring.get("bands")
    if not isinstance(raw, list) or not raw:
        check.fail("scoring.bands", "a scored total needs a non-empty list of bands")
        return ()
    bands: list[Band] = []
    for index, entry in enumerate(raw):
        field = f"scoring.bands[{index}]"
        data = check.mapping(entry, field)
        if data is None:
            continue
        check.known_fields(data, ("band", "min", "max"), f"{field}.")
        name = check.text(data, "band", f"{field}.band")
        low = check.integer(data, "min", f"{field}.min")
        high = check.integer(data, "max", f"{field}.max")
        if name is None or low is None or high is None:
            continue
        if high < low:
            check.fail(f"{field}.max", f"must not be below min ({high} < {low})")
            continue
        if any(b.band == name for b in bands):
            check.fail(f"{field}.band", f"{name!r} is listed twice")
            continue
        bands.append(Band(band=name, min=low, max=high))
    total_complete = total and len(total) == len(scoring["total"])
    if total_complete and len(bands) == len(raw):
        # Coverage is only worth checking once the total and every band are sound.
        lowest = sum(items[link].min_value for link in total)
        highest = sum(items[link].max_value for link in total)
        expected = lowest
        for index, band in sorted(enumerate(bands), key=lambda pair: pair[1].min):
            if band.min != expected:
                check.fail(
                    f"scoring.bands[{index}].min",
                    f"bands must cover {lowest}..{highest} without gaps or overlaps: "
                    f"{band.band!r} starts at {band.min}, expected {expected}",
                )
                return tuple(bands)
            expected = band.max + 1
        if expected != highest + 1:
            check.fail(
                "scoring.bands",
                f"bands must cover {lowest}..{highest}: they end at {expected - 1}",
            )
    return tuple(bands)


def _safety(check: _Check, value: Any, items: Mapping[str, Item]) -> tuple[SafetyRule, ...]:
    if not isinstance(value, list):
        check.fail("scoring.safety", f"must be a list, not {_kind(value)}")
        return ()
    rules: list[SafetyRule] = []
    for index, raw in enumerate(value):
        field = f"scoring.safety[{index}]"
        data = check.mapping(raw, field)
        if data is None:
            continue
        check.known_fields(data, ("item", "at_least", "at_most"), f"{field}.")
        link = data.get("item")
        if not isinstance(link, str) or link not in items:
            check.fail(f"{field}.item", f"no item with link_id {link!r}")
            continue
        at_least = check.integer(data, "at_least", f"{field}.at_least", required=False)
        at_most = check.integer(data, "at_most", f"{field}.at_most", required=False)
        if (at_least is None) == (at_most is None):
            check.fail(field, "needs exactly one of at_least or at_most")
            continue
        rule = SafetyRule(item=link, at_least=at_least, at_most=at_most)
        if not any(rule.positive(v) for v in items[link].values):
            check.fail(field, f"no answer to {link} can ever meet this rule")
            continue
        rules.append(rule)
    return tuple(rules)


# --- files -----------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of keeping the last one silently."""


def _no_duplicate_keys(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _no_duplicate_keys,
)


def _yaml(text: str, source: str, field: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ContentError([Problem(source, field, f"is not valid YAML{line}: {reason}")]) from None


KINDS = {"skills": ".md", "psychoeducation": ".md", "questionnaires": ".yaml"}


def load_library(content_dir: Path | str) -> ContentLibrary:
    """Every file under `content_dir`, checked; ContentError lists every problem in every file."""
    root = Path(content_dir)
    problems: list[Problem] = []
    skills: list[Skill] = []
    cards: list[Card] = []
    questionnaires: list[Questionnaire] = []
    digest = hashlib.sha256()
    for folder, suffix in KINDS.items():
        directory = root / folder
        if not directory.is_dir():
            problems.append(Problem(str(directory), "directory", "is missing"))
            continue
        for path in sorted(directory.iterdir()):
            if path.name.startswith("."):
                continue
            source = str(path)
            if path.suffix != suffix or not path.is_file():
                problems.append(Problem(source, "file", f"{folder}/ holds only *{suffix} files"))
                continue
            digest.update(f"{folder}/{path.name}\0".encode())
            digest.update(path.read_bytes())
            try:
                if folder == "questionnaires":
                    data = _yaml(path.read_text(encoding="utf-8"), source, "questionnaire")
                    questionnaires.append(
                        parse_questionnaire(data, source=source, expected_id=path.stem)
                    )
                    continue
                meta, body = _front_matter(path, source)
                if folder == "skills":
                    skills.append(parse_skill(meta, body, source=source, expected_id=path.stem))
                else:
                    cards.append(parse_card(meta, body, source=source, expected_id=path.stem))
            except ContentError as exc:
                problems.extend(exc.problems)
    found = {q.id for q in questionnaires}
    failed = {Path(p.source).stem for p in problems}
    for required in REQUIRED_QUESTIONNAIRES:
        if required not in found and required not in failed:
            source = str(root / "questionnaires" / f"{required}.yaml")
            problems.append(Problem(source, "file", "is missing; check-ins need it"))
    if problems:
        raise ContentError(problems)
    return ContentLibrary(
        skills=skills,
        cards=cards,
        questionnaires=questionnaires,
        version=digest.hexdigest()[:16],
    )
