from __future__ import annotations

from marshmallow import fields, validate

from api.content.loader import PHASES, SKILL_CATEGORIES
from api.extensions.smorest import Schema, StrictBoolean

SOURCE = "library: from the content files; program: the program's own"


class SkillQuery(Schema):
    category = fields.String(validate=validate.OneOf(SKILL_CATEGORIES))
    phase = fields.String(validate=validate.OneOf(PHASES))


class CardQuery(Schema):
    phase = fields.String(validate=validate.OneOf(PHASES))


class SkillSummary(Schema):
    id = fields.String()
    version = fields.Integer()
    title = fields.String()
    category = fields.String(metadata={"enum": list(SKILL_CATEGORIES)})
    minutes = fields.Integer()
    phases = fields.List(fields.String(metadata={"enum": list(PHASES)}))
    tags = fields.List(fields.String())
    summary = fields.String()
    source = fields.String(metadata={"description": SOURCE})


class Skill(SkillSummary):
    body = fields.String(metadata={"description": "markdown"})


class SkillCreate(Schema):
    """A program's own skill: the fields of a skill file's front matter, and its body."""

    id = fields.String(
        required=True,
        metadata={"description": "lowercase letters, digits and dashes; not a library id"},
    )
    version = fields.Integer(strict=True, load_default=1)
    title = fields.String(required=True)
    category = fields.String(required=True, metadata={"enum": list(SKILL_CATEGORIES)})
    minutes = fields.Integer(strict=True, required=True, metadata={"description": "1-60"})
    phases = fields.List(
        fields.String(metadata={"enum": list(PHASES)}), required=True, metadata={"minItems": 1}
    )
    tags = fields.List(fields.String(), load_default=list)
    summary = fields.String(required=True)
    body = fields.String(required=True, metadata={"description": "markdown"})


class CardSummary(Schema):
    id = fields.String()
    version = fields.Integer()
    title = fields.String()
    phase = fields.String(metadata={"enum": list(PHASES)})
    minutes = fields.Integer()
    tags = fields.List(fields.String())
    summary = fields.String()


class Card(CardSummary):
    body = fields.String(metadata={"description": "markdown"})


class AnswerOption(Schema):
    value = fields.Integer()
    label = fields.String(allow_none=True)
    code = fields.String(allow_none=True, metadata={"description": "LOINC answer code"})


class QuestionnaireItem(Schema):
    link_id = fields.String()
    text = fields.String()
    required = fields.Boolean()
    loinc = fields.String(allow_none=True)
    answers = fields.List(fields.Nested(AnswerOption))


class Questionnaire(Schema):
    id = fields.String()
    version = fields.String(metadata={"description": "stored with every response"})
    title = fields.String()
    name = fields.String(allow_none=True)
    recall = fields.String(allow_none=True)
    items = fields.List(fields.Nested(QuestionnaireItem))


class ContentVisibility(Schema):
    hidden = StrictBoolean(required=True)


class ContentOverride(Schema):
    program_id = fields.UUID()
    kind = fields.String(metadata={"enum": ["skill", "card"]})
    content_id = fields.String()
    hidden = fields.Boolean()
    source = fields.String(metadata={"description": SOURCE})
    updated_at = fields.DateTime()
