"""The labelled seed set (data/seed/) is well formed, split by doc and free of the guide's examples.

Stdlib + pytest only: the teacher and every evaluation read these files, so the checks must run
without the training extra.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "data" / "seed"
LABELS_MD = ROOT.parent / "shared" / "LABELS.md"
SPLITS = ("train", "dev", "test")
ROLES = {"claim", "question", "decision", "action", "context"}
KEYS = {"id", "doc", "genre", "position", "text", "role", "salience"}


def _load(split: str) -> list[dict]:
    with (SEED / f"{split}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    return {s: _load(s) for s in SPLITS}


@pytest.fixture(scope="module")
def rows(splits: dict[str, list[dict]]) -> list[dict]:
    return [r for s in SPLITS for r in splits[s]]


def _normalise(text: str) -> str:
    # Compare on words only, so a changed quote style or final period cannot hide a reuse.
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_schema(rows: list[dict]) -> None:
    for r in rows:
        assert set(r) == KEYS, r
        assert isinstance(r["text"], str) and r["text"] == r["text"].strip() and r["text"], r
        assert "\n" not in r["text"], r["id"]
        assert r["role"] in ROLES, r["id"]
        assert r["salience"] in (0, 1, 2) and type(r["salience"]) is int, r["id"]
        assert type(r["position"]) is int and r["position"] >= 0, r["id"]
        assert r["doc"].startswith(r["genre"] + "-"), r["id"]
        assert r["id"] == f"{r['doc']}-{r['position']}", r["id"]


def test_text_is_plain_like_the_runtime_presents_it(rows: list[dict]) -> None:
    for r in rows:
        text = r["text"]
        for markup in ("**", "==", "[[", "]]", "](", "#"):
            assert markup not in text, f"{r['id']}: Markdown {markup!r} in {text!r}"
        if text.startswith("-"):
            # Only task lines keep their marker; a plain list item is its text alone.
            assert re.match(r"- \[[ x]\] \S", text), f"{r['id']}: list marker in {text!r}"
            assert r["role"] == "action", f"{r['id']}: a task line is an action"


def test_each_text_is_one_sentence_for_the_shared_splitter(rows: list[dict]) -> None:
    # The runtime hands the model what vaultkd.segment yields, so a seed line must be one unit.
    segment = pytest.importorskip("vaultkd.segment", reason="vaultkd is not installed")
    for r in rows:
        spans = segment.split_sentences(r["text"])
        assert [s.text for s in spans] == [r["text"]], f"{r['id']}: splits into {spans}"


def test_size_genres_and_roles(rows: list[dict]) -> None:
    assert len(rows) >= 800
    genres = Counter(r["genre"] for r in rows)
    assert len(genres) >= 8, genres
    roles = Counter(r["role"] for r in rows)
    for role in ROLES:
        assert roles[role] >= 100, roles
    docs_per_genre = Counter(g for g, _ in {(r["genre"], r["doc"]) for r in rows})
    assert min(docs_per_genre.values()) >= 6, docs_per_genre


def test_ids_unique(rows: list[dict]) -> None:
    ids = Counter(r["id"] for r in rows)
    assert [i for i, n in ids.items() if n > 1] == []


def test_positions_contiguous_and_doc_sizes(rows: list[dict]) -> None:
    docs: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        docs[r["doc"]].append(r["position"])
    for doc, positions in docs.items():
        assert positions == list(range(len(positions))), f"{doc}: positions {positions}"
        assert 8 <= len(positions) <= 16, f"{doc}: {len(positions)} sentences"


def test_no_doc_in_two_splits_and_every_genre_in_every_split(
    splits: dict[str, list[dict]],
) -> None:
    seen: dict[str, str] = {}
    for split in SPLITS:
        for r in splits[split]:
            assert seen.setdefault(r["doc"], split) == split, f"{r['doc']} in two splits"
    genres = {r["genre"] for s in SPLITS for r in splits[s]}
    for split in SPLITS:
        assert {r["genre"] for r in splits[split]} == genres, f"{split} misses a genre"


def test_no_duplicate_text(rows: list[dict]) -> None:
    texts = Counter(_normalise(r["text"]) for r in rows)
    assert [t for t, n in texts.items() if n > 1] == []


def test_every_doc_has_an_essential_sentence(rows: list[dict]) -> None:
    essential: Counter = Counter()
    docs = {r["doc"] for r in rows}
    for r in rows:
        essential[r["doc"]] += r["salience"] == 2
    # 1-2 per doc: the executive summary of a mini note is one to three sentences.
    assert [d for d in sorted(docs) if not 1 <= essential[d] <= 2] == []


def _label_guide_examples(text: str) -> list[str]:
    # Every quoted string of three words or more in the guide may be an example sentence
    # ("- [ ] renew the domain" has three); shorter quotes are cue phrases ("shows that").
    quoted = re.findall(r"[\"\u201c]([^\"\u201d\n]+)[\"\u201d]", text)
    return [q for q in quoted if len(_normalise(q).split()) >= 3]


def test_no_label_guide_example_is_reused(rows: list[dict]) -> None:
    if not LABELS_MD.is_file():
        pytest.skip(f"{LABELS_MD} is absent, so the guide's examples cannot be checked")
    examples = _label_guide_examples(LABELS_MD.read_text(encoding="utf-8"))
    assert len(examples) >= 15, "the guide's examples were not found; has its format changed?"
    texts = [(r["id"], _normalise(r["text"])) for r in rows]
    for example in examples:
        needle = _normalise(example)
        # Long examples must not appear even inside a longer line; short quotes are often cue
        # phrases ("from now on"), so for those only an identical line counts as reuse.
        long = len(needle.split()) >= 5
        hits = [i for i, t in texts if (needle in t if long else needle == t)]
        assert hits == [], f"LABELS.md example {example!r} reused in {hits}"


def test_second_pass_covers_exactly_the_test_split(splits: dict[str, list[dict]]) -> None:
    # The agreement reported in data/seed/README.md is only meaningful for the current test set.
    lines = (SEED / "test_second_pass.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id\trole"
    second = dict(line.split("\t") for line in lines[1:])
    assert set(second) == {r["id"] for r in splits["test"]}
    assert set(second.values()) <= ROLES


def test_jsonl_files_match_the_sources() -> None:
    spec = importlib.util.spec_from_file_location("seed_build", SEED / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = build  # dataclasses look their module up while building slots
    try:
        spec.loader.exec_module(build)
    finally:
        del sys.modules[spec.name]
    assert build.main(["--check"]) == 0, "run python data/seed/build.py and commit the result"
