"""The deploy files name real CLI commands and options (systemd units, the compose file)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from crawler.cli import app

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def _check(argv: list[str]) -> None:
    """Parse `dfwatch ARGV` as the CLI would: the command must exist and take those options."""
    root: Any = typer.main.get_command(app)
    name = argv[0]
    if name not in root.commands:
        pytest.fail(f"`dfwatch {name}` is not a command (known: {', '.join(sorted(root.commands))})")
    cmd = root.commands[name]
    rest = argv[1:]
    while hasattr(cmd, "commands") and rest:  # a group: the sub-command is next
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    cmd.make_context(name, list(rest))  # raises on an unknown option or a bad value


def _exec_start(unit: Path) -> list[str]:
    (line,) = re.findall(r"^ExecStart=(.+)$", unit.read_text(), re.M)
    argv = shlex.split(line.replace("%i", "1"))
    assert Path(argv[0]).name == "dfwatch", f"{unit.name} does not start dfwatch"
    return argv[1:]


def test_there_is_a_worker_template_unit() -> None:
    assert DEPLOY / "dfwatch-worker@.service" in UNITS
    assert _exec_start(DEPLOY / "dfwatch-worker@.service")[0] == "worker"


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_starts_a_real_command(unit: Path) -> None:
    _check(_exec_start(unit))


def _compose_commands() -> list[tuple[str, list[str]]]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return [(name, svc["command"]) for name, svc in compose["services"].items() if "build" in svc]


def test_compose_has_one_scheduler_workers_redis_and_postgres() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {"redis", "postgres", "scheduler", "worker"} <= set(services)
    commands = dict(_compose_commands())
    assert commands["scheduler"][0] == "schedule" and commands["worker"][0] == "worker"


@pytest.mark.parametrize(("service", "argv"), _compose_commands(), ids=[n for n, _ in _compose_commands()])
def test_compose_service_runs_a_real_command(service: str, argv: list[str]) -> None:
    _check(argv)
