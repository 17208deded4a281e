"""Development logs are one readable line each (beside the `make dev` banner), with the same
fields and the same redaction as the JSON lines of production."""

from __future__ import annotations

import logging

import pytest

from api.config import ConfigError, load_settings
from api.logs import TextFormatter


def test_development_reads_text_and_everything_else_json():
    assert load_settings({"COMPANION_ENV": "development"}).log_format == "text"
    assert load_settings({"COMPANION_ENV": "test"}).log_format == "json"
    assert load_settings({"COMPANION_ENV": "development", "LOG_FORMAT": "json"}).log_format == (
        "json"
    )
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_settings({"COMPANION_ENV": "test", "LOG_FORMAT": "yaml"})


def test_a_text_line_has_the_fields_and_no_private_value():
    record = logging.makeLogRecord(
        {
            "name": "api.notifications",
            "levelname": "INFO",
            "msg": "dispatched",
            "claimed": 3,
            "who": "sam@example.org",
        }
    )
    line = TextFormatter().format(record)
    assert "\n" not in line and "{" not in line
    assert "INFO  api.notifications dispatched claimed=3 who=[redacted]" in line
