"""Daemon logging: `.vaultkd/vaultkd.log` (rotating) always, stderr for warnings or with `-v`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path

from vaultkd.config import STATE_DIR

LOG_NAME = "vaultkd.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(vault_root: Path, verbose: bool = False) -> Callable[[], None]:
    """Attach the handlers to the `vaultkd` logger; returns a function that detaches them."""
    state = Path(vault_root) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    # 1 MB x 3 keeps a long-running daemon's log small on a laptop.
    to_file = RotatingFileHandler(
        state / LOG_NAME, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    to_file.setFormatter(logging.Formatter(_FORMAT))
    to_file.setLevel(logging.DEBUG if verbose else logging.INFO)
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setFormatter(logging.Formatter("vaultkd: %(message)s"))
    # Without -v stderr still carries warnings (an inotify limit, a locked vault).
    to_stderr.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger = logging.getLogger("vaultkd")
    previous_level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.addHandler(to_file)
    logger.addHandler(to_stderr)

    def detach() -> None:
        for handler in (to_file, to_stderr):
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(previous_level)

    return detach
