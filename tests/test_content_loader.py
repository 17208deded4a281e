"""content/ is checked once at start-up; a bad file keeps the app from starting and says where."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from api import create_app
from api.config import PROJECT_DIR
from api.content.loader import (
    PHASES,
    SKILL_CATEGORIES,
    ContentError,
    ContentLibrary,
    load_library,
    parse_skill,
)

CONTENT = PROJECT_DIR / "content"


def app_config(content_dir: Path) -> dict:
    return {"COMPANION_ENV": "test", "DATABASE_URL": "sqlite://", "CONTENT_DIR": str(content_dir)}


def test_the_real_content_loads_and_checks():
    library = load_library(CONTENT)
    assert len(library.skills()) == len(list((CONTENT / "skills").glob("*.md")))
    assert len(library.cards()) == len(list((CONTENT / "psychoeducation").glob("*.md")))
    assert {q.id for q in library.questionnaires()} >= {"phq9", "gad7", "daily", "bam", "who5"}
    for skill in library.skills():
        assert skill.category in SKILL_CATEGORIES
        assert set(skill.phases) <= set(PHASES) and skill.phases
        assert 1 <= skill.minutes <= 60 and skill.body.strip()
    for phase in PHASES:
        card = library.card_for_phase(phase)
        assert card is not None and card.phase == phase
    phq9 = library.questionnaire("phq9")
    assert phq9 is not None
    assert phq9.band_for(0) == "minimal" and phq9.band_for(27) == "severe"
    assert phq9.safety[0].item == "phq9-9" and phq9.safety[0].positive(1)
    assert not library.questionnaire("phq2").standalone


def test_the_app_holds_the_library_it_loaded():
    app = create_app(app_config(CONTENT))
    try:
        content = app.extensions["companion"].content
        assert isinstance(content, ContentLibrary)
        assert content.skill("dbt-stop").title == load_library(CONTENT).skill("dbt-stop").title
    finally:
        app.extensions["companion"].db.dispose()


def test_the_library_version_changes_with_any_file(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    before = load_library(copy).version
    path = copy / "skills" / "dbt-stop.md"
    path.write_text(path.read_text() + "\nOne more line.\n")
    assert load_library(copy).version != before


def _replace(old: str, new: str, count: int = 1):
    def edit(text: str) -> str:
        assert old in text, f"the test's breakage no longer applies: {old!r}"
        return text.replace(old, new, count)

    return edit


def _drop_line(prefix: str):
    def edit(text: str) -> str:
        lines = text.splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith(prefix)]
        assert len(kept) == len(lines) - 1, f"the test's breakage no longer applies: {prefix!r}"
        return "".join(kept)

    return edit


def _body_only_whitespace(text: str) -> str:
    end = text.index("\n---\n", 4) + len("\n---\n")
    return text[:end] + "\n   \n"


BREAKAGES = {
    "skill title missing": ("skills/dbt-stop.md", _drop_line("title:"), "title"),
    "skill minutes out of range": (
        "skills/dbt-stop.md",
        _replace("minutes: 2", "minutes: 90"),
        "minutes",
    ),
    "skill minutes not an integer": (
        "skills/dbt-stop.md",
        _replace("minutes: 2", "minutes: two"),
        "minutes",
    ),
    "skill unknown category": (
        "skills/dbt-stop.md",
        _replace("category: dbt", "category: yoga"),
        "category",
    ),
    "skill id differs from file name": (
        "skills/dbt-stop.md",
        _replace("id: dbt-stop", "id: dbt-halt"),
        "id",
    ),
    "skill unknown phase": (
        "skills/dbt-stop.md",
        _replace("phases: [month1,", "phases: [month7,"),
        "phases[0]",
    ),
    "skill no phases": (
        "skills/mindfulness-body-scan.md",
        _replace("phases: [months2_3, months4_6, maintenance]", "phases: []"),
        "phases",
    ),
    "skill version not an integer": (
        "skills/dbt-stop.md",
        _replace("version: 1", 'version: "1"'),
        "version",
    ),
    "skill tags not a list": (
        "skills/dbt-stop.md",
        _replace("tags: [distress-tolerance, impulses, crisis]", "tags: crisis"),
        "tags",
    ),
    "skill unknown field": (
        "skills/dbt-stop.md",
        _replace("title:", "author: someone\ntitle:"),
        "author",
    ),
    "skill empty body": ("skills/dbt-stop.md", _body_only_whitespace, "body"),
    "skill no front matter": (
        "skills/dbt-stop.md",
        _replace("---\n", "", 2),
        "front matter",
    ),
    "card phase is a list": (
        "psychoeducation/phase-month1.md",
        _replace("phase: month1", "phase: [month1]"),
        "phase",
    ),
    "card summary missing": (
        "psychoeducation/warning-signs.md",
        _drop_line("summary:"),
        "summary",
    ),
    "bands with a gap": (
        "questionnaires/phq9.yaml",
        _replace("{band: mild, min: 5, max: 9}", "{band: mild, min: 6, max: 9}"),
        "scoring.bands[1].min",
    ),
    "bands overlapping": (
        "questionnaires/gad7.yaml",
        _replace("{band: moderate, min: 10, max: 14}", "{band: moderate, min: 9, max: 14}"),
        "scoring.bands[2].min",
    ),
    "bands short of the maximum total": (
        "questionnaires/who5.yaml",
        _replace("{band: good, min: 13, max: 25}", "{band: good, min: 13, max: 24}"),
        "scoring.bands",
    ),
    "duplicate link_id": (
        "questionnaires/phq9.yaml",
        _replace("link_id: phq9-2", "link_id: phq9-1"),
        "items[1].link_id",
    ),
    "answers name no answer set": (
        "questionnaires/phq9.yaml",
        _replace("answers: frequency", "answers: often"),
        "items[0].answers",
    ),
    "answer value not an integer": (
        "questionnaires/daily.yaml",
        _replace('{value: 1, label: "Yes, I\'m safe"', '{value: yes, label: "Yes, I\'m safe"'),
        "answer_sets.safe[0].value",
    ),
    "range max below min": (
        "questionnaires/daily.yaml",
        _replace("{min: 0, max: 10,", "{min: 10, max: 0,"),
        "items[0].answers",
    ),
    "safety rule on a missing item": (
        "questionnaires/phq9.yaml",
        _replace("{item: phq9-9, at_least: 1}", "{item: phq9-10, at_least: 1}"),
        "scoring.safety[0].item",
    ),
    "subscale on a missing item": (
        "questionnaires/bam.yaml",
        _replace("use: {items: [bam-4, bam-5, bam-6]}", "use: {items: [bam-4, bam-5, bam-66]}"),
        "scoring.subscales.use.items[2]",
    ),
    "total on a missing item": (
        "questionnaires/gad7.yaml",
        _replace("gad7-6, gad7-7]", "gad7-6, gad7-8]"),
        "scoring.total[6]",
    ),
    "version not a string": (
        "questionnaires/gad7.yaml",
        _replace('version: "2026.1"', "version: 2026.1"),
        "version",
    ),
    "questionnaire id differs from file name": (
        "questionnaires/who5.yaml",
        _replace("id: who5", "id: who-5"),
        "id",
    ),
    "duplicate YAML key": (
        "questionnaires/phq9.yaml",
        _replace("title: PHQ-9", "title: PHQ-9\ntitle: PHQ9"),
        "questionnaire",
    ),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_a_broken_file_stops_the_app_and_names_file_and_field(name, tmp_path):
    relative, edit, field = BREAKAGES[name]
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    path = copy / relative
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")

    with pytest.raises(ContentError) as raised:
        create_app(app_config(copy))

    message = str(raised.value)
    assert f"{path}: {field}: " in message, message
    # Only the broken file is blamed.
    assert {problem.source for problem in raised.value.problems} == {str(path)}


def test_a_missing_required_questionnaire_stops_the_app(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    (copy / "questionnaires" / "who5.yaml").unlink()
    with pytest.raises(ContentError, match=re.escape("who5.yaml: file: is missing")):
        create_app(app_config(copy))


def test_a_stray_file_stops_the_app(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    (copy / "skills" / "notes.txt").write_text("todo")
    with pytest.raises(ContentError, match=re.escape("notes.txt: file:")):
        create_app(app_config(copy))


def test_every_problem_in_every_file_is_reported_at_once(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    skill = copy / "skills" / "dbt-stop.md"
    skill.write_text(_drop_line("title:")(_replace("minutes: 2", "minutes: 0")(skill.read_text())))
    form = copy / "questionnaires" / "phq9.yaml"
    form.write_text(_replace("link_id: phq9-2", "link_id: phq9-1")(form.read_text()))
    with pytest.raises(ContentError) as raised:
        load_library(copy)
    fields = {(Path(p.source).name, p.field) for p in raised.value.problems}
    assert {
        ("dbt-stop.md", "title"),
        ("dbt-stop.md", "minutes"),
        ("phq9.yaml", "items[1].link_id"),
    } <= fields


def test_a_missing_content_dir_stops_the_app(tmp_path):
    with pytest.raises(ContentError, match="is missing"):
        create_app(app_config(tmp_path / "nowhere"))


def test_parse_skill_reports_by_field():
    with pytest.raises(ContentError) as raised:
        parse_skill(
            {"id": "Bad Id", "version": 0, "category": "yoga", "minutes": 61, "phases": []},
            "",
            source="program skill",
        )
    assert set(raised.value.by_field()) == {
        "id",
        "version",
        "title",
        "category",
        "minutes",
        "phases",
        "tags",
        "summary",
        "body",
    }
