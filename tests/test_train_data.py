"""Loaders over shared/data: counts as stated in each SOURCE.md, label mapping, no leakage."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vaultkd.roles import ROLE_INDEX
from vaultkd.train import data

ROOT = data.data_root()
needs_data = pytest.mark.skipif(
    not ROOT.is_dir(), reason=f"shared data folder {ROOT} is absent (set VAULTKD_DATA)"
)


def test_mrda_label_mapping() -> None:
    u = data.MrdaUtterance("Bmr001", 3, "me011", "what do you think about that", "Q", "qw", "qw")
    assert data.mrda_labelled(u, "train").role == ROLE_INDEX["question"]
    u = data.MrdaUtterance("Bmr001", 4, "me011", "let me look at it again.", "S", "s", "co")
    assert data.mrda_labelled(u, "train").role == ROLE_INDEX["action"]
    u = data.MrdaUtterance("Bmr001", 5, "me011", "i'll send you the file tonight", "S", "s", "cc")
    assert data.mrda_labelled(u, "train").role == ROLE_INDEX["action"]
    u = data.MrdaUtterance(
        "Bmr001", 6, "me011", "the recogniser runs on the cluster", "S", "s", "s"
    )
    x = data.mrda_labelled(u, "train")
    assert x.role == -1 and x.not_role == ROLE_INDEX["question"]
    assert (
        data.mrda_labelled(data.MrdaUtterance("B", 7, "m", "uh-huh yeah right", "B", "b", "b"), "t")
        is None
    )
    assert data.mrda_labelled(data.MrdaUtterance("B", 8, "m", "yeah.", "S", "s", "s"), "t") is None


def test_claimbuster_label_mapping() -> None:
    pos = data.claimbuster_labelled(
        {"sentence_id": 1, "label": 1, "text": " Taxes rose 4%. "}, "test"
    )
    neg = data.claimbuster_labelled({"sentence_id": 2, "label": 0, "text": "Thank you."}, "test")
    assert (pos.text, pos.role, pos.not_role) == ("Taxes rose 4%.", ROLE_INDEX["claim"], -1)
    assert (neg.role, neg.not_role) == (-1, ROLE_INDEX["claim"])


def test_scitldr_salience_is_relative_and_oracle_is_one() -> None:
    sal = data.scitldr_salience([0.2, 0.4, 0.1], [0, 1, 0])
    assert sal[1] == 1.0 and math.isclose(sal[0], 0.5) and math.isclose(sal[2], 0.25)
    assert data.scitldr_salience([0.0, 0.0], [1, 0]) == [1.0, 0.0]


def test_match_extractive_finds_reworded_transcript_sentences() -> None:
    sents = [
        "Um, so we're designing a new remote control, right?",
        "My favourite animal is a beagle.",
        "The budget is twelve fifty Euro per unit.",
        "Okay.",
    ]
    summary = "so we're designing a new remote control . the budget is twelve fifty Euro per unit ."
    pos, coverage = data.match_extractive(sents, summary)
    assert pos == frozenset({0, 2})
    assert coverage > 0.8


def _write_seed(folder: Path, split: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _row(i: int, text: str, role: str, sal: int = 1) -> dict:
    return {
        "id": f"s{i}",
        "doc": "d1",
        "genre": "meeting",
        "position": i,
        "text": text,
        "role": role,
        "salience": sal,
    }


def test_seed_loader_maps_roles_and_salience(tmp_path: Path) -> None:
    _write_seed(
        tmp_path,
        "train",
        [
            _row(0, "- [ ] renew the domain", "action", 2),
            _row(1, "The call ran long.", "context", 0),
        ],
    )
    rows = data.load_seed("train", tmp_path)
    assert [r.role for r in rows] == [ROLE_INDEX["action"], ROLE_INDEX["context"]]
    assert [r.salience for r in rows] == [1.0, 0.0]
    assert rows[0].text == "- [ ] renew the domain" and rows[1].position == 1


def test_seed_loader_names_the_bad_file(tmp_path: Path) -> None:
    _write_seed(tmp_path, "dev", [_row(0, "Fine.", "claim"), {"text": "x", "role": "opinion"}])
    with pytest.raises(data.DataError, match=r"dev\.jsonl: row 2"):
        data.load_seed("dev", tmp_path)


@needs_data
def test_mrda_counts_match_source_md() -> None:
    counts = {s: data.read_mrda(s) for s in ("train", "val", "test")}
    assert {s: len(v) for s, v in counts.items()} == {"train": 75067, "val": 16433, "test": 16702}
    assert sum(u.is_question for u in counts["train"]) == 4640
    assert sum(u.is_question for u in counts["val"]) == 1112
    assert sum(u.is_question for u in counts["test"]) == 1231
    assert sum(u.full == "co" for u in counts["test"]) == 97
    assert sum(u.full == "cc" for u in counts["test"]) == 51
    assert sum(u.full == "co" for u in counts["train"]) == 460


@needs_data
def test_claimbuster_and_scitldr_counts_match_source_md() -> None:
    train, test = data.read_claimbuster("train"), data.read_claimbuster("test")
    assert (len(train), sum(r["label"] for r in train)) == (7976, 1994)
    assert (len(test), sum(r["label"] for r in test)) == (702, 351)
    assert len(data.read_scitldr("test")) == 618 and len(data.read_scitldr("dev")) == 619


@needs_data
def test_ami_matcher_coverage_on_the_real_meetings() -> None:
    meetings = data.read_ami()
    assert len(meetings) == 137  # SOURCE.md: 137 meetings have an extractive summary + transcript
    cov = data.ami_coverage()
    # Most of each human summary is found in the transcript; every meeting gets positives.
    assert cov["mean_coverage"] > 0.6
    assert all(m.positives for m in meetings)
    assert 0.05 < cov["positive_rate"] < 0.5
    splits = [data.ami_split(m.id) for m in meetings]
    assert 0.1 < splits.count("test") / len(splits) < 0.3


@needs_data
def test_eval_sets_have_the_promised_shapes() -> None:
    sets = data.eval_sets()
    for name in ("mrda_test", "claimbuster_test", "scitldr_test", "ami_test"):
        assert name in sets
    mrda = sets["mrda_test"]
    assert len(mrda.binary["question"]) == len(mrda.texts) == len(mrda.binary["action"])
    assert sum(mrda.binary["question"]) > 500 and sum(mrda.binary["action"]) > 50
    assert sum(sets["claimbuster_test"].binary["claim"]) == 351
    assert len(sets["scitldr_test"].docs) == 618
    assert all(len(d.positives) == 1 for d in sets["scitldr_test"].docs)
    assert all(max(d.positives) < len(d.sentences) for d in sets["ami_test"].docs)


@needs_data
def test_training_data_is_capped_deterministic_and_free_of_test_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaked = data.read_claimbuster("test")[0]["text"]
    _write_seed(
        tmp_path,
        "train",
        [_row(0, "Book the venue for March.", "action"), _row(1, leaked, "claim")],
    )
    _write_seed(tmp_path, "dev", [_row(0, "We met in the annex.", "context")])
    _write_seed(tmp_path, "test", [_row(0, "Cold starts dominate p99.", "claim")])
    monkeypatch.setattr(data, "SEED_DIR", tmp_path)
    data._held_out.cache_clear()
    try:
        train = data.load_labelled("train", seed_repeat=2)
        again = data.load_labelled("train", seed_repeat=2)
        dev = data.load_labelled("dev", sources=("seed", "claimbuster"))
    finally:
        data._held_out.cache_clear()
    assert [x.text for x in train] == [x.text for x in again]
    texts = {data.normalise(x.text) for x in train}
    assert data.normalise(leaked) not in texts
    assert texts.isdisjoint(data.held_out_texts(tmp_path))
    seed_rows = [x for x in train if x.source == "seed"]
    assert [x.text for x in seed_rows] == ["Book the venue for March."] * 2
    by_source = {s: sum(x.source == s for x in train) for s in data.SOURCES}
    assert (
        by_source["mrda"]
        <= sum(data.DEFAULT_CAPS[k] for k in ("mrda_statement", "mrda_question")) + 800
    )
    assert (
        data.DEFAULT_CAPS["claimbuster"] - 20
        <= by_source["claimbuster"]
        <= data.DEFAULT_CAPS["claimbuster"]
    )
    assert [x.text for x in dev if x.source == "seed"] == ["We met in the annex."]
    assert all(x.split == "dev" for x in dev)


@needs_data
def test_scitldr_trained_names_exactly_the_abstracts_the_train_split_reads() -> None:
    trained = data.scitldr_trained(0)
    train = data.load_labelled("train", seed=0)
    read = {x.doc for x in train if x.source == "scitldr"}
    assert trained == read
    dev = {x.doc for x in data.load_labelled("dev", seed=0) if x.source == "scitldr"}
    assert dev and trained.isdisjoint(dev)
    # The cap keeps part of the upstream dev file for training; the rest is new text.
    assert 0 < len(trained) < len(data.read_scitldr("dev")) - len(dev)
    assert data.scitldr_trained(1) != trained
