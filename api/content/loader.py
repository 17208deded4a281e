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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml
from marshmallow.exceptions import SCHEMA

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


# --- field schemas ---------------------------------------------------------------------
# marshmallow checks each record's fields (types, lengths, patterns, choices, unknown
# keys); the code below them checks what spans records (link_ids, answer sets, bands).


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {value}".lower()
    if isinstance(value, (str, int, float)):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


REQUIRED = {"required": "is required", "null": "is required"}


class _Text(ma.fields.Field):
    """Non-empty text, stripped."""

    default_error_messages = {
        **REQUIRED,
        "invalid": "must be non-empty text, not {kind}",
        "too_long": "must be at most {max_length} characters",
        "pattern": "must be 1-64 lowercase letters, digits and dashes",
        "choice": "must be one of {choices}, not {value!r}",
    }

    def __init__(
        self,
        *,
        max_length: int = 1000,
        pattern: re.Pattern[str] | None = None,
        choices: tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_length, self.pattern, self.choices = max_length, pattern, choices

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.make_error("invalid", kind=_kind(value))
        text = value.strip()
        if len(text) > self.max_length:
            raise self.make_error("too_long", max_length=self.max_length)
        if self.pattern is not None and not self.pattern.match(text):
            raise self.make_error("pattern")
        if self.choices is not None and text not in self.choices:
            raise self.make_error("choice", choices=", ".join(self.choices), value=text)
        return text


def _optional_text(**kwargs: Any) -> _Text:
    return _Text(load_default=None, allow_none=True, **kwargs)


class _Integer(ma.fields.Field):
    default_error_messages = {
        **REQUIRED,
        "invalid": "must be an integer, not {kind}",
        "range": "must be between {low} and {high}, not {value}",
    }

    def __init__(self, *, low: int | None = None, high: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not _is_int(value):
            raise self.make_error("invalid", kind=_kind(value))
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise self.make_error("range", low=self.low, high=self.high, value=value)
        return int(value)


class _Boolean(ma.fields.Field):
    default_error_messages = {
        "invalid": "must be true or false, not {kind}",
        "null": "must be true or false, not nothing",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", kind=_kind(value))
        return value


class _TextList(ma.fields.Field):
    """Distinct short texts (tags, phases), errors by index."""

    default_error_messages = {
        **REQUIRED,
        "invalid": "must be a list, not {kind}",
        "empty": "must not be empty",
        "too_many": f"must have at most {LIST_MAX} entries",
    }

    def __init__(
        self, *, choices: tuple[str, ...] | None = None, non_empty: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.choices, self.non_empty = choices, non_empty

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.make_error("invalid", kind=_kind(value))
        if self.non_empty and not value:
            raise self.make_error("empty")
        if len(value) > LIST_MAX:
            raise self.make_error("too_many")
        found: list[str] = []
        errors: dict[int, list[str]] = {}
        for index, entry in enumerate(value):
            if not isinstance(entry, str) or not entry.strip():
                errors[index] = [f"must be non-empty text, not {_kind(entry)}"]
            elif len(entry) > LIST_ENTRY_MAX:
                errors[index] = [f"must be at most {LIST_ENTRY_MAX} characters"]
            elif self.choices is not None and entry not in self.choices:
                errors[index] = [f"must be one of {', '.join(self.choices)}"]
            elif entry in found:
                errors[index] = [f"{entry!r} is listed twice"]
            else:
                found.append(entry)
        if errors:
            raise ma.ValidationError(errors)  # keyed by index, as marshmallow's List does
        return tuple(found)


class _Version(ma.fields.Field):
    default_error_messages = {
        "required": "must be a quoted version string, not nothing",
        "null": "must be a quoted version string, not nothing",
        "invalid": "must be a quoted version string, not {kind}",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.make_error("invalid", kind=_kind(value))
        return value.strip()


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    error_messages = {"unknown": "unknown field"}


class SkillFields(_Strict):
    id = _Text(required=True, pattern=ID_PATTERN)
    version = _Integer(required=True, low=1, high=1_000_000)
    title = _Text(required=True, max_length=TITLE_MAX)
    category = _Text(required=True, choices=SKILL_CATEGORIES)
    minutes = _Integer(required=True, low=1, high=60)
    phases = _TextList(required=True, choices=PHASES, non_empty=True)
    tags = _TextList(required=True)
    summary = _Text(required=True, max_length=SUMMARY_MAX)


class CardFields(_Strict):
    id = _Text(required=True, pattern=ID_PATTERN)
    version = _Integer(required=True, low=1, high=1_000_000)
    title = _Text(required=True, max_length=TITLE_MAX)
    phase = _Text(required=True, choices=PHASES)
    minutes = _Integer(required=True, low=1, high=60)
    tags = _TextList(required=True)
    summary = _Text(required=True, max_length=SUMMARY_MAX)


class QuestionnaireFields(_Strict):
    id = _Text(required=True, pattern=ID_PATTERN)
    version = _Version(required=True)
    title = _Text(required=True)
    name = _optional_text()
    recall = _optional_text()
    standalone = _Boolean(load_default=True)
    part2 = _Boolean(load_default=False)
    # Nested parts are read below, record by record, so each problem keeps its path.
    loinc = ma.fields.Raw(load_default=None)
    answer_sets = ma.fields.Raw(load_default={})
    items = ma.fields.Raw(load_default=None)
    scoring = ma.fields.Raw(load_default=None)


class LoincFields(_Strict):
    panel = _optional_text()
    total = _optional_text()


class OptionFields(_Strict):
    value = _Integer(required=True)
    label = _Text(required=True)
    code = _optional_text()


class ItemFields(_Strict):
    link_id = _Text(required=True, pattern=LINK_ID_PATTERN)
    text = _Text(required=True)
    answers = ma.fields.Raw(load_default=None)  # a set's name or a range: checked below
    loinc = _optional_text()
    required = _Boolean(load_default=True)


class RangeFields(_Strict):
    min = _Integer(required=True)
    max = _Integer(required=True)
    labels = ma.fields.Raw(load_default={})


class ScoringFields(_Strict):
    total = ma.fields.Raw()
    bands = ma.fields.Raw()
    subscales = ma.fields.Raw(load_default={})
    safety = ma.fields.Raw(load_default=[])


class BandFields(_Strict):
    band = _Text(required=True)
    min = _Integer(required=True)
    max = _Integer(required=True)


class SubscaleFields(_Strict):
    items = ma.fields.Raw(load_default=None)
    positive_at = _Integer(load_default=None, allow_none=True)


class SafetyFields(_Strict):
    item = ma.fields.Raw(load_default=None)
    at_least = _Integer(load_default=None, allow_none=True)
    at_most = _Integer(load_default=None, allow_none=True)


def _paths(messages: Any, prefix: str) -> Iterator[tuple[str, str]]:
    """marshmallow's nested errors as (dotted path, message): items[1].link_id."""
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, str):
                yield prefix, message
            else:
                yield from _paths(message, prefix)
        return
    for key, value in messages.items():
        if isinstance(key, int):
            path = f"{prefix}[{key}]"
        elif key == SCHEMA:  # errors of the record as a whole
            path = prefix
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        yield from _paths(value, path)


class _Check:
    """Collects problems for one source, so one run reports everything wrong in a file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.source, field, message))

    def load(self, schema: ma.Schema, value: Any, field: str) -> dict[str, Any] | None:
        """The fields of `value` that passed `schema` (None if it is not a mapping)."""
        if not isinstance(value, Mapping):
            self.fail(field, f"must be a mapping, not {_kind(value)}")
            return None
        try:
            return schema.load(value)
        except ma.ValidationError as exc:
            prefix = "" if field in ("front matter", "questionnaire") else field
            for path, message in _paths(exc.messages, prefix):
                self.fail(path, message)
            return exc.valid_data if isinstance(exc.valid_data, dict) else {}

    def raise_if_failed(self) -> None:
        if self.problems:
            raise ContentError(self.problems)


_SKILL, _CARD, _QUESTIONNAIRE = SkillFields(), CardFields(), QuestionnaireFields()
_LOINC, _OPTION, _ITEM, _RANGE = LoincFields(), OptionFields(), ItemFields(), RangeFields()
_SCORING, _BAND, _SUBSCALE, _SAFETY = (
    ScoringFields(),
    BandFields(),
    SubscaleFields(),
    SafetyFields(),
)


# --- skills and cards ------------------------------------------------------------------


def parse_skill(
    meta: Any, body: Any, *, source: str, expected_id: str | None = None, origin: str = "library"
) -> Skill:
    """A Skill from front-matter fields and a markdown body, or ContentError naming each field."""
    check = _Check(source)
    data = check.load(_SKILL, meta, "front matter")
    if data is None:
        check.raise_if_failed()
    assert data is not None
    _check_id(check, data, expected_id)
    text = _check_body(check, body)
    check.raise_if_failed()
    return Skill(**data, body=str(text), source=origin)


def parse_card(meta: Any, body: Any, *, source: str, expected_id: str | None = None) -> Card:
    check = _Check(source)
    data = check.load(_CARD, meta, "front matter")
    if data is None:
        check.raise_if_failed()
    assert data is not None
    _check_id(check, data, expected_id)
    text = _check_body(check, body)
    check.raise_if_failed()
    return Card(**data, body=str(text))


def _check_id(check: _Check, data: Mapping[str, Any], expected: str | None) -> None:
    value = data.get("id")
    if value is not None and expected is not None and value != expected:
        check.fail("id", f"must match the file name: {expected!r}, not {value!r}")


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
    top = check.load(_QUESTIONNAIRE, data, "questionnaire")
    if top is None:
        check.raise_if_failed()
    assert top is not None
    _check_id(check, top, expected_id)
    loinc: dict[str, Any] = {}
    if top.get("loinc") is not None or (isinstance(data, Mapping) and "loinc" in data):
        loinc = check.load(_LOINC, top.get("loinc"), "loinc") or {}
    answer_sets = _answer_sets(check, top.get("answer_sets", {}))
    items = _items(check, top.get("items"), answer_sets)
    by_link = {item.link_id: item for item in items}
    total, bands, subscales, safety = _scoring(check, top.get("scoring"), by_link)
    check.raise_if_failed()
    return Questionnaire(
        id=top["id"],
        version=top["version"],
        title=top["title"],
        name=top["name"],
        recall=top["recall"],
        standalone=top["standalone"],
        part2=top["part2"],
        loinc_panel=loinc.get("panel"),
        loinc_total=loinc.get("total"),
        items=tuple(items),
        total=total,
        bands=bands,
        subscales=subscales,
        safety=safety,
    )


def _answer_sets(check: _Check, value: Any) -> dict[str, tuple[AnswerOption, ...]]:
    if not isinstance(value, Mapping):
        check.fail("answer_sets", f"must be a mapping, not {_kind(value)}")
        return {}
    found: dict[str, tuple[AnswerOption, ...]] = {}
    for name, options in value.items():
        field = f"answer_sets.{name}"
        if not isinstance(options, list) or not options:
            check.fail(field, "must be a non-empty list of {value, label, code}")
            continue
        parsed: list[AnswerOption] = []
        for index, raw in enumerate(options):
            option = check.load(_OPTION, raw, f"{field}[{index}]")
            if option is None or "value" not in option:
                continue
            number = option["value"]
            if any(p.value == number for p in parsed):
                check.fail(f"{field}[{index}].value", f"{number} is listed twice")
                continue
            parsed.append(AnswerOption(number, option.get("label"), option.get("code")))
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
        data = check.load(_ITEM, raw, field)
        if data is None:
            continue
        link_id = data.get("link_id")
        if link_id is not None and link_id in seen:
            check.fail(
                f"{field}.link_id", f"duplicate link_id {link_id!r} (also items[{seen[link_id]}])"
            )
            link_id = None
        options = _item_answers(check, data.get("answers"), f"{field}.answers", answer_sets)
        if link_id is None:
            continue
        seen[link_id] = index
        if data.get("text") is None or not options:
            continue
        items.append(
            Item(
                link_id=link_id,
                text=data["text"],
                answers=options,
                required=data.get("required", True),
                loinc=data.get("loinc"),
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
    spec = check.load(_RANGE, value, field)
    if spec is None or "min" not in spec or "max" not in spec:
        return ()
    low, high = spec["min"], spec["max"]
    if high < low or high - low + 1 > MAX_RANGE_OPTIONS:
        check.fail(field, f"min..max must be 1 to {MAX_RANGE_OPTIONS} values, not {low}..{high}")
        return ()
    labels: dict[int, str] = {}
    raw_labels = spec.get("labels", {})
    if not isinstance(raw_labels, Mapping):
        check.fail(f"{field}.labels", f"must be a mapping, not {_kind(raw_labels)}")
    else:
        for key, label in raw_labels.items():
            if not _is_int(key) or not low <= key <= high:
                check.fail(f"{field}.labels", f"{key!r} is not a value between {low} and {high}")
            elif not isinstance(label, str) or not label.strip():
                check.fail(f"{field}.labels.{key}", f"must be non-empty text, not {_kind(label)}")
            else:
                labels[key] = label.strip()
    return tuple(
        AnswerOption(value=v, label=labels.get(v), code=None) for v in range(low, high + 1)
    )


def _scoring(
    check: _Check, value: Any, items: Mapping[str, Item]
) -> tuple[tuple[str, ...] | None, tuple[Band, ...], tuple[Subscale, ...], tuple[SafetyRule, ...]]:
    scoring = check.load(_SCORING, value, "scoring")
    if scoring is None:
        return None, (), (), ()
    total = None
    if "total" in scoring:
        total = _link_list(check, scoring["total"], "scoring.total", items)
    bands = _bands(check, scoring, total, items)
    subscales: list[Subscale] = []
    raw_subscales = scoring.get("subscales", {})
    if not isinstance(raw_subscales, Mapping):
        check.fail("scoring.subscales", f"must be a mapping, not {_kind(raw_subscales)}")
        raw_subscales = {}
    for name, raw in raw_subscales.items():
        field = f"scoring.subscales.{name}"
        spec = check.load(_SUBSCALE, raw, field)
        if spec is None:
            continue
        links = _link_list(check, spec.get("items"), f"{field}.items", items)
        subscales.append(Subscale(str(name), links, spec.get("positive_at")))
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
        data = check.load(_BAND, entry, field)
        if data is None or not {"band", "min", "max"} <= set(data):
            continue
        name, low, high = data["band"], data["min"], data["max"]
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
        data = check.load(_SAFETY, raw, field)
        if data is None:
            continue
        link = data.get("item")
        if not isinstance(link, str) or link not in items:
            check.fail(f"{field}.item", f"no item with link_id {link!r}")
            continue
        at_least, at_most = data.get("at_least"), data.get("at_most")
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
