"""Generated notes for a few sample_vault notes match the reviewed golden files byte for byte
(shipped model). Refresh: `python -m tests.golden.refresh`, then review the diff."""

from __future__ import annotations

import difflib
from pathlib import Path

from refresh import FILES, copy_sample_vault, golden_outputs


def test_golden_files(tmp_path: Path) -> None:
    outputs = golden_outputs(copy_sample_vault(tmp_path / "vault"))
    expected = {
        p.relative_to(FILES).as_posix(): p.read_bytes() for p in FILES.rglob("*") if p.is_file()
    }
    hint = "if the change is intended: python -m tests.golden.refresh, then review git diff"
    assert sorted(outputs) == sorted(expected), hint
    for rel, data in outputs.items():
        if data != expected[rel]:
            diff = "".join(
                difflib.unified_diff(
                    expected[rel].decode("utf-8").splitlines(keepends=True),
                    data.decode("utf-8").splitlines(keepends=True),
                    f"golden/{rel}",
                    f"now/{rel}",
                )
            )
            raise AssertionError(f"{rel} differs from its golden file ({hint}):\n{diff}")
