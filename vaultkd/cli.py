"""The `vaultkd` command line: thin click commands over library functions.

Library errors become one clear line on stderr and a non-zero exit code
(0 ok, 1 failure, 2 usage). Nothing here holds logic of its own.
"""

from __future__ import annotations

import click

from vaultkd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaultkd")
def main() -> None:
    """Distill an Obsidian/Markdown vault with a small local model."""


# Commands are added below, one section per command, each calling into the library.
