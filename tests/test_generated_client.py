"""A Python client generated from /api/openapi.json by openapi-python-client, with no hand
edits, drives the graduate's main journey. If generation fails, the spec is wrong."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

PACKAGE = "companion_client"


@pytest.fixture(scope="session")
def generated(app, tmp_path_factory) -> object:
    """Generate the client once per database run and import it."""
    where = tmp_path_factory.mktemp("client")
    spec = where / "openapi.json"
    spec.write_text(json.dumps(app.test_client().get("/api/openapi.json").json))
    config = where / "config.json"
    config.write_text(json.dumps({"post_hooks": [], "package_name_override": PACKAGE}))
    generator = Path(sys.executable).with_name("openapi-python-client")
    arguments = ["generate", "--path", spec, "--config", config, "--meta", "none"]
    result = subprocess.run(
        [generator, *arguments, "--output-path", where / PACKAGE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(where))
    for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
        del sys.modules[name]  # the other database's run generated its own copy
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


def _module(package: object, name: str):
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_graduate_journey_through_the_generated_client(app, generated, world, as_user, clock):
    def client(email: str):
        return generated.AuthenticatedClient(
            base_url="http://localhost",
            token=as_user(email).token,
            httpx_args={"transport": httpx.WSGITransport(app=app)},
        )

    models = _module(generated, "models")
    create = _module(generated, "api.graduates.post_api_v1_programs_program_id_graduates")
    enrol = _module(generated, "api.graduates.post_api_v1_enrollments")
    read_plan = _module(generated, "api.plans.get_api_v1_graduates_graduate_id_plan")
    submit = _module(generated, "api.check_ins.post_api_v1_graduates_graduate_id_check_ins")
    trends = _module(generated, "api.check_ins.get_api_v1_graduates_graduate_id_trends")

    created = create.sync(
        world.program.id,
        client=client(world.email("staff")),
        body=models.GraduateCreate(
            display_name="Robin",
            graduation_date=date(2026, 11, 2),
            timezone="America/Denver",
            substance_use=False,
            baseline=models.Baseline(phq9=7, gad7=5),
        ),
    )
    assert isinstance(created, models.GraduateCreated), created

    graduate = client("robin@example.org")
    linked = enrol.sync(client=graduate, body=models.EnrollmentRedeem(code=created.enrollment_code))
    assert isinstance(linked, models.Graduate), linked
    assert str(linked.id) == str(created.id)

    plan = read_plan.sync_detailed(created.id, client=graduate)
    assert plan.status_code == 200

    answers = models.CheckInCreateAnswers.from_dict({f"phq9-{i}": 1 for i in range(1, 10)})
    answers["phq9-9"] = 0
    result = submit.sync(
        created.id,
        client=graduate,
        body=models.CheckInCreate(
            questionnaire=models.CheckInCreateQuestionnaire.PHQ9,
            answers=answers,
            answered_at=clock.now() - timedelta(minutes=1),
        ),
    )
    assert isinstance(result, models.CheckInResult), result
    assert (result.score, result.band) == (8, "mild")
    assert result.safety.positive is False

    trend = trends.sync(
        created.id,
        client=graduate,
        instrument=models.GetApiV1GraduatesGraduateIdTrendsInstrument.PHQ9,
    )
    assert isinstance(trend, models.Trend), trend
    assert [point.score for point in trend.points] == [8]
    assert trend.baseline == 7
