"""Ready-to-paste settings for Obsidian's "Shell commands" community plugin (Taitava).

The plugin substitutes `{{file_path:absolute}}` and `{{vault_path}}` and escapes their values
for the shell itself (every character that is not a letter, digit or underscore gets a
backslash in bash/zsh/dash), so the command carries no quotes around the variables. Only the
path of the `vaultkd` program, which is literal text in the command, is quoted here.
"""

from __future__ import annotations

import shlex

from vaultkd.daemon.service import vaultkd_command

PLUGIN = "Shell commands"
PLUGIN_URL = "https://github.com/Taitava/obsidian-shellcommands"
DEBOUNCE_DOCS = "https://publish.obsidian.md/shellcommands/Events/Events+-+debouncing"
VARIABLES = "{{file_path:absolute}} --vault {{vault_path}}"


def shell_command(command: list[str] | None = None) -> str:
    """The plugin's shell command: `vaultkd distill {{file_path:absolute}} --vault {{vault_path}}`
    with the absolute path of this vaultkd, since Obsidian does not see a virtualenv's PATH."""
    program = shlex.join(command or vaultkd_command())
    return f"{program} distill {VARIABLES}"


def obsidian_settings(command: list[str] | None = None, cooldown: float = 2.0) -> str:
    """The text `vaultkd hook obsidian` prints."""
    cmd = shell_command(command)
    seconds = f"{cooldown:g}"
    return f"""\
Obsidian "{PLUGIN}" plugin ({PLUGIN_URL}): add a shell command with these settings.

Shell command (paste as is; no quotes: the plugin escapes the variables itself):
    {cmd}

  Alias:                       vaultkd: distill this note
  Shell (Linux/macOS):         the default (bash or zsh)
  Output channel for stdout:   Notification/error balloon   (one line: what was written)
  Output channel for stderr:   Notification/error balloon   (one line: what went wrong)
  Hotkey:                      Settings > Hotkeys > "Shell commands: Execute: vaultkd: distill
                               this note", e.g. Ctrl+Alt+D

Optional, to distill on every save instead of on a hotkey (or run `vaultkd watch VAULT`):
  Execute this shell command automatically on:  File content modified
  Debouncing (experimental):   Execute before cooldown: no
                               Execute after cooldown: yes
                               Cooldown duration (seconds): {seconds}
                               Prolong cooldown: yes
                               ({DEBOUNCE_DOCS})

Exit code 0 means distilled (or nothing to do), non-zero means the note was left as it was.
"""
