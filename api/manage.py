"""`companion`: the project's one command line, installed into the virtualenv by pyproject.

It is the Flask CLI with this app loaded (the same commands as `flask --app wsgi …`).
Commands that only make sense on a developer's machine (demo data, sign-in tokens, the
development server) and the bare command list run in development unless COMPANION_ENV says
otherwise; every other
command (migrations, programs, jobs, the scheduler and dispatchers) takes its settings from
the environment as the web app does, so without COMPANION_ENV it is production and a missing
setting stops it in one line that names it.
"""

from __future__ import annotations

import os
import sys

from flask.cli import FlaskGroup

from api import create_app_or_exit

DEVELOPMENT_COMMANDS = frozenset({"demo", "dev-token", "run"})


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in args if not arg.startswith("-")), None)
    if command is None or command in DEVELOPMENT_COMMANDS:
        # `companion` or `companion --help` only lists the commands: in a fresh clone that
        # must work without production settings.
        os.environ.setdefault("COMPANION_ENV", "development")
    cli = FlaskGroup(
        name="companion",
        help="The companion API's commands (see README.md and docs/operations.md).",
        create_app=create_app_or_exit,
        load_dotenv=False,
        set_debug_flag=False,
    )
    cli.main(args=args, prog_name="companion")


if __name__ == "__main__":
    main()
