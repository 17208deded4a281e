"""The README's commands work as written, so the docs cannot drift from the code.

Blocks fenced as `sh runnable` run, in order, in one shell from the project folder against
a fresh database; every other shell block is checked line by line: each `companion` command
parses (`--help` after its arguments), each `make` target, `scripts/` file and
`python -m` module exists. A production mistake ends in one line that names the setting.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup

from api import create_app
from tests import databases

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```sh( runnable)?\n(.*?)^```", re.DOTALL | re.MULTILINE)
VENV_BIN = ".venv/bin/"
# Settings a developer's shell may carry that would change what the commands do.
UNSET = ("COMPANION_ENV", "DATABASE_URL", "FIREBASE_PROJECT_ID", "FIREBASE_AUTH_EMULATOR_HOST")


def _blocks(runnable: bool) -> list[str]:
    return [body for flag, body in BLOCK.findall(README) if bool(flag) == runnable]


def _commands(block: str) -> list[list[str]]:
    """Each command line of a block as words, continuations joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def _bin(tmp_path: Path) -> Path:
    """The virtualenv's bin folder: the project's own after `make`, else one made here whose
    `companion` and `python` are this interpreter's (a worktree without its own .venv)."""
    if (ROOT / VENV_BIN / "companion").exists():
        return ROOT / VENV_BIN
    shims = tmp_path / "bin"
    shims.mkdir(exist_ok=True)
    for name, run in (("companion", "-m api.manage"), ("python", ""), ("flask", "-m flask")):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec {sys.executable} {run} "$@"\n')
        shim.chmod(0o755)
    return shims


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


def _run(script: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = script.replace(VENV_BIN, f"{_bin(tmp_path)}/")
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_readme_has_runnable_blocks():
    assert len(_blocks(runnable=True)) >= 2


@pytest.mark.parametrize("kind", databases.wanted())
def test_the_runnable_blocks_run_on_a_fresh_database(kind, tmp_path):
    if kind == "postgresql" and (problem := databases.postgres_problem()):
        pytest.skip(f"PostgreSQL unreachable ({problem})")
    with databases.fresh_database(kind, str(tmp_path)) as url:
        result = _run("\n".join(_blocks(runnable=True)), tmp_path, DATABASE_URL=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_in_the_readme_exists(tmp_path):
    # The `companion` command line as api/manage.py builds it, on one app made here.
    app = create_app({"COMPANION_ENV": "test", "DATABASE_URL": "sqlite://"})
    companion = FlaskGroup(create_app=lambda: app, load_dotenv=False, set_debug_flag=False)
    makefile = (ROOT / "Makefile").read_text()
    problems = []
    for block in _blocks(runnable=False) + _blocks(runnable=True):
        for words in _commands(block):
            words = [w for w in words if not re.fullmatch(r"[A-Z_]+=.*", w)]  # VAR=value
            if not words or words[0] in ("curl", "export"):
                continue
            head = words[0].removeprefix(VENV_BIN)
            if head == "make":
                problems += [t for t in words[1:] if not re.search(rf"^{t}:", makefile, re.M)]
            elif head == "companion":
                result = CliRunner().invoke(companion, [*words[1:], "--help"])
                if result.exit_code != 0:
                    problems.append(f"{' '.join(words)}: {result.output.strip()[-300:]}")
            elif head.startswith("scripts/"):
                if not os.access(ROOT / head, os.X_OK):
                    problems.append(head)
            elif head == "python" and words[1] == "-m":
                if importlib.util.find_spec(words[2]) is None:
                    problems.append(" ".join(words[:3]))
            else:
                problems.append(f"unchecked command in README: {' '.join(words)}")
    assert not problems


def test_links_stay_inside_the_repository():
    targets = re.findall(r"\]\(([^)#]+)", README)
    assert "../" not in README
    assert [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()] == []


def test_the_command_list_needs_no_settings(tmp_path):
    result = _run(".venv/bin/companion --help", tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in ("db", "demo", "dev-token", "jobs", "programs"))


@pytest.mark.parametrize(
    "command",
    [
        ".venv/bin/companion db upgrade",
        ".venv/bin/companion jobs run-once",
        ".venv/bin/flask --app wsgi db upgrade",
        ".venv/bin/python -m jobs.dispatcher --once",
    ],
)
def test_a_production_mistake_is_one_line_naming_the_setting(command, tmp_path):
    result = _run(command, tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "companion: production needs DATABASE_URL and FIREBASE_PROJECT_ID set explicitly "
        "(COMPANION_ENV=development runs locally without them)"
    ]
