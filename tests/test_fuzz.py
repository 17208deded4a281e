"""Schemathesis over every operation in the OpenAPI spec, signed in as each kind of user.

No 5xx, every response as the spec documents it, every error in the one format. A
schema-valid body may still be refused by a rule (an unknown enrollment code, a therapist
not on the care team: API.md's 422s), so "valid data accepted" is not checked. Examples
per operation stay few so CI is fast; `FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_fuzz.py`
is the long run. Positive and negative data both: malformed input must get a 4xx.

It is the slowest part of the suite by far, so it runs on one database: PostgreSQL, as in
production (SQLite only when PostgreSQL is not among TEST_DATABASES); `make test-fast`
leaves it out (marker `fuzz`).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests import databases

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
ERROR_KEYS = {"code", "status", "message"}
ROLES = ("graduate", "therapist_consent", "staff", "coordinator")
# Revokes the caller's token, so every later case would be a 401 (tested in test_auth).
SKIPPED = {"POST /api/v1/me/sign-out-everywhere"}
ONE_DATABASE = ["postgresql"] if "postgresql" in databases.wanted() else databases.wanted()[:1]

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.parametrize("database_kind", ONE_DATABASE, indirect=True),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_holds_under_generated_input(app, world, as_user, role, mode):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    signed_in = {"Authorization": f"Bearer {as_user(world.email(role)).token}"}
    # Real ids for the graduate and program, so access rules run, not only 404s.
    known = {"graduate_id": str(world.graduate.id), "program_id": str(world.program.id)}
    failures, calls = {}, []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        names = {parameter.name for parameter in operation.path_parameters}
        pinned = {name: value for name, value in known.items() if name in names}

        strategy = operation.as_strategy(
            generation_mode=mode, path_parameters=pinned or None, headers=signed_in
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call_and_validate(
                headers=signed_in, excluded_checks=[positive_data_acceptance]
            )
            calls.append(response.status_code)
            if response.status_code >= 400:
                assert set(response.json()) >= ERROR_KEYS, response.text

        try:
            check()
        except Unsatisfiable:
            continue  # nothing in this operation can be made invalid (negative mode)
        except Exception as failure:  # every operation's failure is reported, not the first
            failures[operation.label] = str(failure).splitlines()[:12]
    assert len(calls) >= 50, "the fuzzer barely ran: is the spec being served?"
    assert not failures, "\n".join(f"{label}: {lines}" for label, lines in failures.items())


LONE_SURROGATE = "\ud800"
TOO_DEEP = "[" * 5000 + "]" * 5000


def _with_surrogates(value):
    """The same body with a lone surrogate in every string, keys included."""
    if isinstance(value, str):
        return value + LONE_SURROGATE
    if isinstance(value, dict):
        return {_with_surrogates(k): _with_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_surrogates(item) for item in value]
    return value


@pytest.mark.parametrize("role", ["graduate", "staff"])
def test_every_body_refuses_deep_nesting_and_lone_surrogates(app, world, client, as_user, role):
    """Odd input the generators never make: a 5,000-deep body (400 before anything reads it)
    and schema-valid bodies with a lone UTF-16 surrogate in every string (422)."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    signed_in = {"Authorization": f"Bearer {as_user(world.email(role)).token}"}
    known = {"graduate_id": str(world.graduate.id), "program_id": str(world.program.id)}
    failures, bodies = {}, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED or not operation.body:
            continue
        names = {parameter.name for parameter in operation.path_parameters}
        pinned = {name: value for name, value in known.items() if name in names}
        strategy = operation.as_strategy(
            generation_mode=GenerationMode.POSITIVE,
            path_parameters=pinned or None,
            headers=signed_in,
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            nonlocal bodies
            url = case.formatted_path
            deep = client.open(
                url,
                method=case.method,
                data=TOO_DEEP,
                headers=signed_in,
                content_type="application/json",
            )
            assert deep.status_code == 400, (url, deep.status_code, deep.get_data(as_text=True))
            assert set(deep.get_json()) >= ERROR_KEYS
            if not isinstance(case.body, dict) or not case.body:
                return
            bodies += 1
            odd = client.open(
                url,
                method=case.method,
                json=_with_surrogates(case.body),
                headers=signed_in,
                query_string=case.query,
            )
            assert 400 <= odd.status_code < 500, (url, odd.status_code, odd.get_data(as_text=True))
            assert set(odd.get_json()) >= ERROR_KEYS

        try:
            check()
        except Exception as failure:
            failures[operation.label] = str(failure).splitlines()[:12]
    assert bodies >= 10, "hardly any bodies were tried: is the spec being served?"
    assert not failures, "\n".join(f"{label}: {lines}" for label, lines in failures.items())
