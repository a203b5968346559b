"""`.vaultkd.toml`: defaults, overrides, strict keys and types, clear errors."""

from pathlib import Path

import pytest

from vaultkd.config import Config, ConfigError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    assert Config.load(tmp_path) == Config()


def test_overrides_at_top_level_and_under_a_table(tmp_path: Path) -> None:
    (tmp_path / ".vaultkd.toml").write_text('distilled_folder = "Out"\nquiet-period = 1\n')
    config = Config.load(tmp_path)
    assert config.distilled_folder == "Out" and config.quiet_period == 1.0
    (tmp_path / ".vaultkd.toml").write_text("[vaultkd]\nconnections = 9\n")
    assert Config.load(tmp_path).connections == 9


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("nonsense = 1\n", "unknown setting"),
        ('connections = "five"\n', "connections must be int"),
        ('distilled_folder = "../outside"\n', "relative folder inside the vault"),
        ('atomic_folder = "/abs"\n', "relative folder inside the vault"),
        ("highlight_fraction = 0.5\nbold_fraction = 0.2\n", "must not exceed"),
        ("summary_sentences = 0\n", "summary_sentences must be >= 1"),
        ("min_sentences = 0\n", "min_sentences must be >= 1"),
        ("connections = -1\n", "connections must be >= 0"),
        ("max_note_mb = 0\n", "max_note_mb must be > 0"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_file(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / ".vaultkd.toml").write_text(content)
    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path)
    assert fragment in str(info.value)
    assert ".vaultkd.toml" in str(info.value)
