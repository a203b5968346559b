"""Build the seed set's JSONL splits from the hand-written sources in `src/`.

The sources are the thing people edit: one file per genre, one doc per `# title` block, one
sentence per line as `<role letter><salience digit> <text>`. This script only numbers them and
splits them, so a label fix is a one-character edit plus a rerun. Stdlib only, deterministic:
the split depends on nothing but the doc ids.

    python data/seed/build.py            # rewrite train/dev/test.jsonl
    python data/seed/build.py --check    # exit 1 if the JSONL files are out of date
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
SPLITS = ("train", "dev", "test")
ROLE_LETTERS = {"C": "claim", "Q": "question", "D": "decision", "A": "action", "X": "context"}


@dataclass(frozen=True, slots=True)
class Sentence:
    id: str
    doc: str
    genre: str
    position: int
    text: str
    role: str
    salience: int


class SourceError(ValueError):
    """A source line that does not follow the `<role><salience> <text>` format."""


def parse_genre(genre: str, source: str, origin: str = "<string>") -> list[list[Sentence]]:
    """Parse one genre file into docs (lists of sentences in reading order)."""
    docs: list[list[Sentence]] = []
    current: list[Sentence] | None = None
    for lineno, raw in enumerate(source.splitlines(), start=1):
        line = raw.rstrip()
        if not line:
            continue
        if line.startswith("# "):
            current = []
            docs.append(current)
            continue
        if current is None:
            raise SourceError(f"{origin}:{lineno}: sentence before the first '# title' line")
        tag, _, text = line.partition(" ")
        if len(tag) != 2 or tag[0] not in ROLE_LETTERS or tag[1] not in "012" or not text:
            raise SourceError(
                f"{origin}:{lineno}: expected '<C|Q|D|A|X><0|1|2> text', got {line!r}"
            )
        doc = f"{genre}-{len(docs):02d}"
        pos = len(current)
        current.append(
            Sentence(f"{doc}-{pos}", doc, genre, pos, text, ROLE_LETTERS[tag[0]], int(tag[1]))
        )
    return docs


def split_of(doc_ids: list[str]) -> dict[str, str]:
    """Assign each doc of one genre to a split, about 70/15/15, stable under adding docs.

    Docs are ordered by a hash of their id (not by position, so early docs are not all in
    train); the first ~15% go to test, the next ~15% to dev, the rest to train.
    """
    ordered = sorted(doc_ids, key=lambda d: hashlib.sha256(d.encode()).hexdigest())
    n_held = max(1, round(len(ordered) * 0.15))
    out: dict[str, str] = {}
    for i, doc in enumerate(ordered):
        out[doc] = "test" if i < n_held else "dev" if i < 2 * n_held else "train"
    return out


def build() -> dict[str, list[Sentence]]:
    """All sentences, grouped by split, in genre / doc / position order."""
    result: dict[str, list[Sentence]] = {s: [] for s in SPLITS}
    for path in sorted(SRC.glob("*.txt")):
        docs = parse_genre(path.stem, path.read_text(encoding="utf-8"), str(path))
        assignment = split_of([d[0].doc for d in docs if d])
        for doc in docs:
            if doc:
                result[assignment[doc[0].doc]].extend(doc)
    return result


def render(sentences: list[Sentence]) -> str:
    return "".join(json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in sentences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    args = parser.parse_args(argv)
    try:
        splits = build()
    except SourceError as exc:
        print(f"error: {exc}; fix the line and rerun", file=sys.stderr)
        return 1
    stale = []
    for name, sentences in splits.items():
        path = HERE / f"{name}.jsonl"
        text = render(sentences)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python data/seed/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
