"""Training: teacher, transfer corpus, student, KD loss, export, evaluation (extra `[train]`).

Nothing at run time imports this package. Importing it is cheap and needs no torch, so
`vaultkd.train.data` and `vaultkd.train.corpus` work on a run-time install; every module that
imports torch calls `require_train_extra()` first, which fails with the exact install line.
"""

from __future__ import annotations

import re
from importlib import metadata

INSTALL_LINE = 'pip install -c constraints.txt -e ".[train]"'
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']train["']""")


class MissingTrainExtra(ImportError):
    """Raised when a training module is used without the `[train]` extra installed."""


def train_requirements() -> list[str]:
    """Distribution names of the `[train]` extra, read from the installed package metadata."""
    try:
        reqs = metadata.requires("vaultkd") or []
    except metadata.PackageNotFoundError:  # running from a bare checkout
        return []
    names: list[str] = []
    for req in reqs:
        spec, _, marker = req.partition(";")
        if marker and _EXTRA_MARKER.search(marker):
            name = re.split(r"[\s<>=!~\[;(]", spec.strip(), maxsplit=1)[0]
            names.append(name)
    return names


def missing_train_requirements() -> list[str]:
    missing = []
    for name in train_requirements():
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def require_train_extra() -> None:
    """Fail with the exact install line if any package of the `[train]` extra is missing."""
    missing = missing_train_requirements()
    if missing:
        raise MissingTrainExtra(
            f"vaultkd training needs the [train] extra (missing: {', '.join(missing)}); "
            f"install it with: {INSTALL_LINE}"
        )
