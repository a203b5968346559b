"""The transfer-corpus step: text extraction, length filter, dedup, and no held-out sentence."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from vaultkd.train import corpus
from vaultkd.train import data as labelled

ROOT = labelled.data_root()
needs_data = pytest.mark.skipif(
    not ROOT.is_dir(), reason=f"shared data folder {ROOT} is absent (set VAULTKD_DATA)"
)

NOTE = """---
tags: [x]
title: Not prose
---
# Heading is not a sentence

Spaced repetition beats rereading for long-term recall. It also takes less time overall.

```python
print("code is not prose either, even when long enough")
```

- [ ] Renew the domain before it expires next month
- See [[Other note|the other note]] for the full argument about caching.
%% a private comment that should never appear in the corpus %%
| a | table | row | that | is | skipped |
"""


def test_markdown_paragraphs_keep_prose_only() -> None:
    paras = list(corpus.markdown_paragraphs(NOTE))
    joined = "\n".join(paras)
    assert "Spaced repetition beats rereading" in joined
    assert "Renew the domain before it expires next month" in paras
    assert "See the other note for the full argument about caching." in paras
    for junk in ("title:", "Heading", "print(", "private comment", "table"):
        assert junk not in joined


def test_html_paragraphs_skip_code_and_scripts() -> None:
    html = (
        "<html><head><title>T</title><script>var x = 1;</script></head><body>"
        "<p>The <b>scheduler</b> runs every task once per tick.</p>"
        "<pre>for i in range(10): print(i)</pre><li>Each worker owns one queue.</li></body></html>"
    )
    assert corpus.html_paragraphs(html) == [
        "The scheduler runs every task once per tick.",
        "Each worker owns one queue.",
    ]


def test_length_filter() -> None:
    assert corpus.keep("The scheduler runs every task once per tick.")
    assert not corpus.keep("Too short.")
    assert not corpus.keep(" ".join(["word"] * 80) + ".")
    assert not corpus.keep("x = 1 + 2 * (3 / 4) - 5 % 6 == 7 >= 8;")


def test_load_transfer_reads_any_folder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(
        "First sentence here.\nSecond one here.\n\nFirst sentence here.\n"
    )
    (tmp_path / "sub").mkdir()
    with gzip.open(tmp_path / "sub" / "b.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("Third from a gzip file.\n")
    (tmp_path / "ignored.json").write_text("Not a text file.\n")
    got = corpus.load_transfer(tmp_path, None, 0)
    assert sorted(got) == ["First sentence here.", "Second one here.", "Third from a gzip file."]
    assert corpus.load_transfer(tmp_path, None, 0) == got  # same seed, same order
    assert len(corpus.load_transfer(tmp_path, 2, 1)) == 2
    with pytest.raises(FileNotFoundError, match="not a folder"):
        corpus.load_transfer(tmp_path / "missing", None, 0)


def test_debian_package_skipped_without_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "_dpkg_installed", lambda p: False)
    monkeypatch.setattr(corpus.shutil, "which", lambda name: None)
    assert corpus.ensure_debian_package("linux-doc") is False


@needs_data
def test_corpus_never_contains_held_out_sentences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A seed dev and a seed test sentence that also occur in a corpus source must be dropped,
    # as must every evaluation test sentence (ClaimBuster test, MRDA test, ...).
    cb_train = [r["text"].strip() for r in labelled.read_claimbuster("train")]
    in_corpus = [t for t in cb_train if corpus.keep(t)]
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir()
    for split, text in (("dev", in_corpus[0]), ("test", in_corpus[1])):
        row = {
            "id": "x",
            "doc": "d",
            "genre": "g",
            "position": 0,
            "text": text,
            "role": "claim",
            "salience": 1,
        }
        (seed_dir / f"{split}.jsonl").write_text(json.dumps(row) + "\n")
    monkeypatch.setattr(labelled, "SEED_DIR", seed_dir)
    labelled._held_out.cache_clear()
    try:
        out = tmp_path / "corpus"
        counts = corpus.build_corpus(out, sources=["claimbuster", "science"], install=False)
        banned = labelled.held_out_texts()
    finally:
        labelled._held_out.cache_clear()
    lines = corpus.load_transfer(out)
    assert counts["claimbuster"] > 5000 and counts["science"] > 5000
    assert len(lines) == sum(counts.values())
    keys = {labelled.normalise(s) for s in lines}
    assert labelled.normalise(in_corpus[0]) not in keys
    assert labelled.normalise(in_corpus[1]) not in keys
    assert keys.isdisjoint(banned)
    assert in_corpus[2] in lines
    assert all(corpus.keep(s) for s in lines)
    assert len(keys) == len(lines)  # deduplicated


def test_vaults_named_in_exclude_are_left_out(tmp_path: Path) -> None:
    # The refinement keeps two documentation vaults out of its anchor rows so that they can
    # check it; a vault left out must contribute no sentence.
    for name, text in (("vault-a", "Alpha notes describe the first vault well enough."),
                       ("vault-b", "Beta notes describe the second vault well enough.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "n.md").write_text(text + "\n", encoding="utf-8")
    both = list(corpus.src_vaults(tmp_path))
    assert any("Alpha" in s for s in both) and any("Beta" in s for s in both)
    only_a = list(corpus.src_vaults(tmp_path, exclude=("vault-b",)))
    assert only_a and all("Beta" not in s for s in only_a)
