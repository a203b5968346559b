"""A small stand-in for `pipeline.Session` with the same interface, for daemon unit tests.

It really writes files (atomically, into `Distilled/`), keeps its state in a JSON file so a
second process sees it, re-checks the source before writing (returns "retry" when it changed),
and counts every call and every write so tests can assert "processed once".
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vaultkd.config import Config


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FakeResult:
    note: str
    status: str
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    message: str = ""
    report: dict | None = None


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".vaultkd-tmp")
    # No fsync: crash durability is the real writer's job (tests/test_daemon_real.py).
    tmp.write_bytes(data)
    os.replace(tmp, path)


class FakeSession:
    """Writes `Distilled/<note>` holding the source's hash; `inline=True` also rewrites the
    source (appending a marker once), so the daemon sees events caused by its own writes."""

    def __init__(self, root: Path, config: Config | None = None, *, inline: bool = False) -> None:
        self.root = root
        self.config = config or Config()
        self.inline = inline
        self.state_path = root / ".vaultkd" / "fake-state.json"
        self.state: dict[str, dict[str, str]] = {}
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
        self.calls: Counter[str] = Counter()
        self.distilled: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.moved: list[tuple[str, str]] = []
        self.deleted: list[str] = []
        self.closed = False
        self.thread: int | None = None
        # Called between reading a source and writing its distillation (to simulate a user
        # saving at that moment).
        self.before_write: Callable[[str], None] | None = None
        # Notes whose distillation raises instead of returning a result (a pipeline bug).
        self.explode: set[str] = set()

    # -- the Session interface ----------------------------------------------------------------

    def distill(self, rel_paths: Sequence[str], *_: object, **__: object) -> list[FakeResult]:
        self.calls["distill"] += 1
        self.thread = threading.get_ident()
        if self.explode & set(rel_paths):
            raise RuntimeError(f"cannot distill {sorted(self.explode & set(rel_paths))}")
        results = []
        for rel in rel_paths:
            self.distilled[rel] += 1
            source = self.root / rel
            data = source.read_bytes()
            if self.state.get(rel, {}).get("source") == sha(data):
                results.append(FakeResult(rel, "unchanged"))
                continue
            if self.before_write is not None:
                self.before_write(rel)
            if source.read_bytes() != data:  # the user saved meanwhile: never clobber
                results.append(FakeResult(rel, "retry", message="changed on disk"))
                continue
            out_rel = f"{self.config.distilled_folder}/{rel}"
            body = f"# {rel}\nsource: {sha(data)}\n".encode()
            atomic_write(self.root / out_rel, body)
            self.writes[out_rel] += 1
            entry = {"source": sha(data), "out": out_rel, "out_hash": sha(body)}
            if self.inline and not data.endswith(b"\n<!-- vkd -->\n"):
                data = data + b"\n<!-- vkd -->\n"
                atomic_write(source, data)
                self.writes[rel] += 1
                entry["source"] = sha(data)
                entry["own_source"] = sha(data)
            self.state[rel] = entry
            self._save()
            results.append(FakeResult(rel, "written", written=[out_rel]))
        return results

    def predict(self, rel_paths: list[str]) -> int:
        self.calls["predict"] += 1
        return 0

    def pending(self) -> list[str]:
        self.calls["pending"] += 1
        todo = []
        skip = (self.config.distilled_folder + "/", self.config.atomic_folder + "/")
        for path in sorted(self.root.rglob("*.md")):
            rel = path.relative_to(self.root).as_posix()
            if rel.startswith(skip) or any(p.startswith(".") for p in Path(rel).parts):
                continue
            if self.state.get(rel, {}).get("source") != sha(path.read_bytes()):
                todo.append(rel)
        return todo

    def source_moved(self, old: str, new: str) -> list[str]:
        self.moved.append((old, new))
        if old in self.state:
            self.state[new] = self.state.pop(old)
            self._save()
        return []

    def source_deleted(self, rel_path: str) -> list[str]:
        self.deleted.append(rel_path)
        self.state.pop(rel_path, None)
        self._save()
        return []

    def is_own_write(self, rel_path: str) -> bool:
        self.calls["is_own_write"] += 1
        try:
            data = (self.root / rel_path).read_bytes()
        except FileNotFoundError:
            return False
        return self.state.get(rel_path, {}).get("own_source") == sha(data)

    def close(self) -> None:
        self.closed = True

    def _save(self) -> None:
        atomic_write(self.state_path, json.dumps(self.state).encode())
