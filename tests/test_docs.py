"""The README's commands are the ones CI runs, and every command documents itself."""

import re
from pathlib import Path

import click
from click.testing import CliRunner

from vaultkd.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    commands = _readme_commands()
    assert len(commands) == 2, "the Quick start must show exactly two commands"
    test_command = commands[1].strip()
    install_and_test = test_command.split("&&", 2)[2].strip()  # after venv + activate
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test in ci, f".ci/run must run the README test command: {install_and_test}"
    assert "pytest" in install_and_test


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = dict(main.commands)
    assert commands, "the CLI has no commands"
    for name, command in commands.items():
        assert command.help, f"`vaultkd {name}` has no help text"
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                assert sub.help, f"`vaultkd {name} {sub.name}` has no help text"


def test_main_command_distills_the_sample_vault() -> None:
    main_command = _readme_commands()[0].strip()
    assert main_command.endswith("vaultkd distill --all sample_vault")
    assert "pip install -c constraints.txt -e ." in main_command
