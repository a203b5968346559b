"""`.vaultkd.toml` at the vault root: one dataclass, one name per setting everywhere.

A setting keeps the same name in the TOML file, the CLI (`--quiet-period`) and here
(`quiet_period`). Unknown keys and wrong types are errors, not silently ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

CONFIG_NAME = ".vaultkd.toml"
STATE_DIR = ".vaultkd"


class ConfigError(Exception):
    """A `.vaultkd.toml` that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True, slots=True)
class Config:
    distilled_folder: str = "Distilled"  # one distillation note per source, mirroring folders
    atomic_folder: str = "Atomic"  # atomic notes
    bold_fraction: float = 0.33  # layer 2: share of sentences in key passages
    highlight_fraction: float = 0.10  # layer 3: share of sentences highlighted
    summary_sentences: int = 3  # layer 4: at most this many sentences
    connections: int = 5  # suggested connections per note
    min_sentences: int = 3  # below this a note is "too short to distil"
    max_note_mb: float = 5.0  # a larger note is not distilled (an error that says so)
    block_refs: bool = False  # append ^vkd-… ids to cited source blocks
    inline: bool = False  # progressive summarization inside the source note
    # New actions as `- [ ]` tasks (the Tasks plugin and task searches list them); false: as
    # `☐` lines like the note's own tasks, which no task query counts (for vaults of docs and
    # how-tos, whose steps read as actions)
    new_tasks: bool = True
    quiet_period: float = 2.0  # daemon: seconds without events before distilling
    polling: bool = False  # daemon: force the polling observer

    @classmethod
    def load(cls, vault_root: Path) -> Config:
        path = vault_root / CONFIG_NAME
        if not path.is_file():
            return cls()
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix or delete the file") from exc
        # Settings may sit at top level or under [vaultkd].
        table = raw.get("vaultkd", raw)
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for key, value in table.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(
                    f"{path}: unknown setting {key!r}; known settings: {', '.join(sorted(known))}"
                )
            default = getattr(cls(), name)
            is_int = isinstance(value, int) and not isinstance(value, bool)
            if isinstance(default, float) and is_int:
                value = float(value)
            if type(value) is not type(default):
                raise ConfigError(
                    f"{path}: {key} must be {type(default).__name__}, got {type(value).__name__}"
                )
            values[name] = value
        config = cls(**values)  # type: ignore[arg-type]
        config.validate(path)
        return config

    def validate(self, path: Path) -> None:
        for name in ("distilled_folder", "atomic_folder"):
            folder = getattr(self, name)
            parts = Path(folder).parts
            if not folder or Path(folder).is_absolute() or ".." in parts or folder.startswith("."):
                raise ConfigError(f"{path}: {name} must be a relative folder inside the vault")
        for name in ("bold_fraction", "highlight_fraction"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{path}: {name} must be in (0, 1]")
        if self.highlight_fraction > self.bold_fraction:
            raise ConfigError(f"{path}: highlight_fraction must not exceed bold_fraction")
        # A summary of no sentences, or a note distilled from none, would have nothing to say.
        for name, least in (("summary_sentences", 1), ("min_sentences", 1), ("connections", 0)):
            if getattr(self, name) < least:
                raise ConfigError(f"{path}: {name} must be >= {least}")
        if self.max_note_mb <= 0:
            raise ConfigError(f"{path}: max_note_mb must be > 0")
        if self.quiet_period < 0:
            raise ConfigError(f"{path}: quiet_period must be >= 0 seconds")
