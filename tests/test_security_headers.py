"""Security headers on every response; CORS answers only the console's listed origins."""

from __future__ import annotations

import re

import pytest

from api import create_app
from api.config import ConfigError, load_settings

CONSOLE = "https://console.example.org"


@pytest.fixture
def console_app(migrated_url, session_clock):
    from tests.conftest import test_config

    app = create_app(test_config(migrated_url, session_clock, CORS_ORIGINS=CONSOLE))
    yield app
    app.extensions["companion"].db.dispose()


def test_every_response_carries_the_security_headers(client):
    for path in ("/healthz", "/api/v1/me", "/api/v1/nowhere"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_swagger_ui_comes_from_the_app_itself_under_a_policy_without_inline_script(client):
    page = client.get("/api/docs")
    policy = page.headers["Content-Security-Policy"]
    assert page.status_code == 200
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "cdn" not in html.lower() and "https://" not in html
    for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
    assert "swagger-ui-bundle.js" in html


def test_the_console_origin_gets_cors_and_others_do_not(console_app, db):
    client = console_app.test_client()
    allowed = client.options(
        "/api/v1/flags",
        headers={"Origin": CONSOLE, "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "X-Pagination" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    stranger = client.get("/api/v1/me", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers
    assert "Origin" in stranger.headers["Vary"]


def test_no_cors_by_default_outside_development(client):
    response = client.get("/healthz", headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("origins", ["*", "http://console.example.org", "https://*.example.org"])
def test_wildcards_and_plain_http_origins_are_refused(origins):
    with pytest.raises(ConfigError):
        load_settings({"COMPANION_ENV": "test", "CORS_ORIGINS": origins})
