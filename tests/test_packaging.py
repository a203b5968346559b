"""The wheel carries the model, and pyproject lists every package folder."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_folders() -> set[str]:
    """Dotted names of every folder with an __init__.py under vaultkd/ (plus models/)."""
    found = set()
    for init in (ROOT / "vaultkd").rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if "__pycache__" in rel.parts:
            continue
        found.add(".".join(rel.parts))
    if (ROOT / "models" / "__init__.py").is_file():
        found.add("vaultkd.models")
    return found


def test_pyproject_packages_match_folders() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    assert listed == _package_folders()
    assert _pyproject()["tool"]["setuptools"]["package-dir"]["vaultkd.models"] == "models"


@pytest.mark.slow
def test_wheel_contains_the_model(tmp_path: Path) -> None:
    if not (ROOT / "models" / "student.onnx").is_file():
        pytest.skip("no shipped model in models/ yet (run `vaultkd train`)")
    # A copy keeps build/ and *.egg-info of the build out of the shared working tree.
    src = tmp_path / "src"
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in tracked:
        p = ROOT / rel
        if p.is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(p.read_bytes())
    out = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wheels = list(out.glob("vaultkd-*.whl"))
    assert len(wheels) == 1
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for f in ("student.onnx", "tokenizer.json", "student.json", "model-card.md", "metrics.json"):
        assert f"vaultkd/models/{f}" in names, f
    assert "vaultkd/model/runtime.py" in names
    assert not any(n.startswith("vaultkd/models/") and n.endswith(".pt") for n in names)
