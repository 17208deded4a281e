"""The command line, as `companion …` (api/manage.py) or `flask --app wsgi …`: db, programs,
jobs, the scheduler and dispatcher processes, demo and dev-token commands."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from api import devtokens, migrate
from api.runtime import runtime

db_cli = AppGroup("db", help="Schema migrations (Alembic).")
programs_cli = AppGroup("programs", help="Programs.")
jobs_cli = AppGroup("jobs", help="Scheduled jobs.")
demo_cli = AppGroup("demo", help="Demo data for a first run (development only).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the schema to REVISION (default: head)."""
    migrate.upgrade(runtime().settings.database_url, revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION ("base" for empty)."""
    migrate.downgrade(runtime().settings.database_url, revision)


@db_cli.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    migrate.check(runtime().settings.database_url)


@db_cli.command("revision")
@click.option("--message", "-m", required=True)
@click.option("--rev-id", required=True, help="4-digit prefix, e.g. 0002")
def db_revision(message: str, rev_id: str) -> None:
    """Autogenerate a migration from the models."""
    migrate.revision(runtime().settings.database_url, message, rev_id)


@programs_cli.command("create")
@click.option("--name", required=True)
@click.option("--admin-email", required=True, help="The first staff member's email.")
def programs_create(name: str, admin_email: str) -> None:
    """Create a program and its first staff member; prints the program id last."""
    from api.programs.service import create_program

    rt = runtime()
    session = rt.db.session()
    program = create_program(
        session=session, name=name, admin_email=admin_email, now=rt.clock.now()
    )
    session.commit()
    click.echo(f"Created program {name!r}; {admin_email} is its first staff member.")
    click.echo(str(program.id))


@jobs_cli.command("run-once")
def jobs_run_once() -> None:
    """Run every scheduled job once, as of now, and exit."""
    from flask import current_app

    from jobs.scheduler import run_all_once

    for job_id, count in run_all_once(current_app).items():
        click.echo(f"{job_id}: {count}")


@jobs_cli.command("scheduler")
def jobs_scheduler() -> None:
    """The one scheduler process (same as python -m jobs); Ctrl-C stops it."""
    from flask import current_app

    from jobs.__main__ import main

    main(current_app._get_current_object())  # type: ignore[attr-defined]


@jobs_cli.command("dispatcher")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--idle-seconds", default=2.0, show_default=True, help="Wait when none is due.")
def jobs_dispatcher(once: bool, idle_seconds: float) -> None:
    """A push dispatcher (same as python -m jobs.dispatcher); run as many as needed."""
    from flask import current_app

    from api.notifications.dispatch import BATCH_SIZE
    from jobs.dispatcher import run

    run(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        batch_size=BATCH_SIZE,
        idle_seconds=idle_seconds,
        once=once,
    )


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the demo program, its people and months of history (idempotent)."""
    _refuse_in_production()
    _seed_demo()


@demo_cli.command("reset")
def demo_reset() -> None:
    """Drop the development database, migrate it and seed the demo again."""
    from sqlalchemy.engine import make_url

    rt = runtime()
    if rt.settings.env != "development":
        raise click.ClickException("demo reset only runs with COMPANION_ENV=development")
    url = make_url(rt.settings.database_url)
    rt.db.dispose()
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).unlink(missing_ok=True)
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        migrate.downgrade(rt.settings.database_url, "base")
    migrate.upgrade(rt.settings.database_url)
    _seed_demo()


def _seed_demo() -> None:
    from api import demo

    rt = runtime()
    started = time.perf_counter()
    program = demo.seed(session=rt.db.session(), content=rt.content, now=rt.clock.now())
    rt.db.session.commit()
    click.echo(
        f"Demo program {program.name!r}: {program.id} "
        f"(seeded in {time.perf_counter() - started:.1f} s)"
    )
    for person in demo.PEOPLE:
        click.echo(f"  {person.role:<12} {person.email:<28} {person.note}")


@demo_cli.command("tokens")
@click.option("--hours", default=12, show_default=True, help="How long the tokens are valid.")
def demo_tokens(hours: int) -> None:
    """Print an emulator ID token for each demo person."""
    from api import demo

    for person in demo.PEOPLE:
        click.echo(f"  {person.email} ({person.role}: {person.note})")
        click.echo(f"    {_mint(person.email, hours=hours)}")


@click.command("dev-token")
@click.argument("email")
@click.option("--hours", default=8, show_default=True, help="How long the token is valid.")
@click.option("--unverified", is_flag=True, help="Mint a token whose email is not verified.")
def dev_token(email: str, hours: int, unverified: bool) -> None:
    """Print an emulator ID token for EMAIL (development and test only)."""
    click.echo(_mint(email, hours=hours, email_verified=not unverified))


def _mint(email: str, *, hours: int, email_verified: bool = True) -> str:
    _refuse_in_production()
    rt = runtime()
    return devtokens.mint(
        project_id=rt.settings.firebase_project_id,
        email=email,
        now=rt.clock.now(),
        email_verified=email_verified,
        lifetime=timedelta(hours=hours),
    )


def _refuse_in_production() -> None:
    if not runtime().settings.uses_auth_emulator:
        raise click.ClickException("only available in development and test")


def register_cli(app: Flask) -> None:
    for command in (db_cli, programs_cli, jobs_cli, demo_cli, dev_token):
        app.cli.add_command(command)
