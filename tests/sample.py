"""The shipped sample vault as tests must see it: only what the repository ships.

The README's main command distils `sample_vault/` in place, so on a developer's machine the
folder may also hold `Distilled/`, `Atomic/` and `.vaultkd/`. Tests that read the vault
directly use `pristine_sample_vault()`: the folder itself when it holds nothing generated,
else a copy without the generated folders (made once per test session).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "sample_vault"
GENERATED = (".vaultkd", "Distilled", "Atomic")


@cache
def pristine_sample_vault() -> Path:
    if not any((SAMPLE / name).exists() for name in GENERATED):
        return SAMPLE
    tmp = Path(tempfile.mkdtemp(prefix="vaultkd-sample-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    dest = tmp / "sample_vault"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns(*GENERATED))
    return dest
