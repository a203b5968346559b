"""The transfer corpus: unlabelled sentences of varied prose for the teacher to label.

A separate step from training (`python -m vaultkd.train.corpus OUT_DIR [--max N]`): it writes
one `<source>.txt` per source into OUT_DIR, one sentence per line, deduplicated across sources,
length-filtered, and free of every held-out sentence (seed dev/test and every evaluation test
set, matched case- and space-insensitively). Training reads any folder of .txt files through
`load_transfer`, so a user may bring their own prose instead.

Sources: the public vaults, meeting transcripts (QMSum, AMI, MRDA), scientific sentences
(SciTLDR, CL-SciSumm), ClaimBuster, the repo's sample vault, and Debian documentation
packages (python3.11-doc, linux-doc, debian-handbook, WordNet glosses), installed with apt when
running as root and apt exists; otherwise those sources are skipped with a log line.
No torch here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from vaultkd.segment import sentences as split_text
from vaultkd.train import data as labelled

log = logging.getLogger(__name__)

MIN_WORDS, MAX_WORDS = 4, 60
MIN_CHARS, MAX_CHARS = 20, 400
# No single source may exceed this share of the requested total, so documentation
# (hundreds of thousands of sentences) cannot crowd out notes and meetings.
MAX_SOURCE_SHARE = 0.3
DEBIAN_PACKAGES: dict[str, str] = {
    "python_docs": "python3.11-doc",
    "linux_docs": "linux-doc",
    "debian_handbook": "debian-handbook",
    "wordnet": "wordnet-base",
}

_MD_NOISE = [
    (
        re.compile(r"!?\[\[([^\]|#]*)(?:#[^\]|]*)?(?:\|([^\]]*))?\]\]"),
        lambda m: m.group(2) or m.group(1),
    ),
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), lambda m: m.group(1)),
    (re.compile(r"`[^`]*`"), lambda m: m.group(0).strip("`")),
    (re.compile(r"(\*\*|__|==|~~)"), lambda m: ""),
    (re.compile(r"\^[\w-]+\s*$"), lambda m: ""),
    (re.compile(r"<[^>]+>"), lambda m: " "),
]
_LIST_PREFIX = re.compile(
    r"^\s*(?:[-*+]\s+(?:\[[ xX/-]\]\s+)?|\d+[.)]\s+|>\s*(?:\[![^\]]*\][+-]?\s*)?)"
)
_WORDY = re.compile(r"[A-Za-z]")


def keep(sentence: str) -> bool:
    """Length filter: real sentences, not fragments, tables or paragraphs of code."""
    n = len(sentence.split())
    if not (MIN_WORDS <= n <= MAX_WORDS and MIN_CHARS <= len(sentence) <= MAX_CHARS):
        return False
    letters = sum(c.isalpha() for c in sentence)
    return letters >= 0.6 * len(sentence.replace(" ", ""))


# --- text extraction ------------------------------------------------------------------------


def markdown_paragraphs(text: str) -> Iterator[str]:
    """Prose blocks of a Markdown note: no frontmatter, code, tables, comments or headings."""
    text = text.replace("\r\n", "\n")
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4 :]
    text = re.sub(r"```.*?```|~~~.*?~~~", "\n", text, flags=re.S)
    text = re.sub(r"%%.*?%%|<!--.*?-->|\$\$.*?\$\$", " ", text, flags=re.S)
    para: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith(("#", "|", "---", "{{", "{%")):
            if para:
                yield " ".join(para)
            para = []
            continue
        is_item = bool(_LIST_PREFIX.match(raw))
        line = _LIST_PREFIX.sub("", raw).strip()
        for pat, rep in _MD_NOISE:
            line = pat.sub(rep, line)
        if is_item:
            # A list item is its own unit, like the vault reader treats it.
            if para:
                yield " ".join(para)
            para = []
            yield line
        else:
            para.append(line)
    if para:
        yield " ".join(para)


class _HtmlText(HTMLParser):
    """Collect text of block elements, skipping code, navigation and scripts."""

    BLOCKS = {"p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "div", "blockquote"}
    SKIP = {"pre", "script", "style", "code", "nav", "head", "title", "tt", "kbd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._buf: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buf.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._buf).split())
        if text:
            self.blocks.append(text)
        self._buf = []

    def close(self) -> None:
        super().close()
        self._flush()


def html_paragraphs(html: str) -> list[str]:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.blocks


def sentences_of(paragraphs: Iterable[str]) -> Iterator[str]:
    for p in paragraphs:
        for s in split_text(p):
            if keep(s):
                yield s


# --- sources --------------------------------------------------------------------------------


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.rglob(pattern)) if folder.is_dir() else []


def src_vaults(root: Path, exclude: Collection[str] = ()) -> Iterator[str]:
    """Sentences of the public vaults, except those whose folder is named in `exclude`."""
    for folder in sorted(root.glob("vault-*")):
        if folder.name in exclude:
            continue
        for path in _files(folder, "*.md"):
            if path.name in ("SOURCE.md", "UPSTREAM-README.md", "LICENSE.md"):
                continue
            yield from sentences_of(markdown_paragraphs(path.read_text("utf-8", errors="replace")))


def src_sample_vault(root: Path) -> Iterator[str]:
    for path in _files(labelled.REPO_ROOT / "sample_vault", "*.md"):
        yield from sentences_of(markdown_paragraphs(path.read_text("utf-8", errors="replace")))


def src_meetings(root: Path) -> Iterator[str]:
    for name in ("val.jsonl", "test.jsonl"):
        path = root / "qmsum" / name
        if path.exists():
            for row in labelled._read_jsonl(path):
                yield from sentences_of(t["content"] for t in row["meeting_transcripts"])
    # AMI and MRDA: only meetings outside their test splits.
    for path in _files(root / "ami-summaries" / "ami-transcripts", "*.txt"):
        if labelled.ami_split(path.name.split(".")[0]) != "test":
            yield from sentences_of(path.read_text("utf-8").splitlines())
    for split in ("train", "val"):
        try:
            utts = labelled.read_mrda(split)  # type: ignore[arg-type]
        except labelled.DataError:
            continue
        # MRDA is lower-case and unpunctuated at the start; capitalise so it reads as prose.
        yield from (u.text[:1].upper() + u.text[1:] for u in utts if keep(u.text))


def src_science(root: Path) -> Iterator[str]:
    path = root / "scitldr" / "SciTLDR-A.dev.jsonl"
    if path.exists():
        for row in labelled._read_jsonl(path):
            yield from (s.strip() for s in row["source"] if keep(s.strip()))
    path = root / "cl-scisumm-2018-test" / "reference_papers.jsonl"
    if path.exists():
        for row in labelled._read_jsonl(path):
            yield from (s["text"].strip() for s in row["sentences"] if keep(s["text"].strip()))


def src_claimbuster(root: Path) -> Iterator[str]:
    if (root / "claimbuster" / "train.json").exists():
        for row in labelled.read_claimbuster("train"):
            if keep(row["text"].strip()):
                yield row["text"].strip()


def _html_tree(folder: Path) -> Iterator[str]:
    for path in _files(folder, "*.html"):
        if "_static" in path.parts or "genindex" in path.name:
            continue
        yield from sentences_of(html_paragraphs(path.read_text("utf-8", errors="replace")))


def src_python_docs(root: Path) -> Iterator[str]:
    yield from _html_tree(Path("/usr/share/doc/python3.11/html"))


def src_linux_docs(root: Path) -> Iterator[str]:
    for folder in sorted(Path("/usr/share/doc").glob("linux-doc*/html")):
        yield from _html_tree(folder)


def src_debian_handbook(root: Path) -> Iterator[str]:
    yield from _html_tree(Path("/usr/share/doc/debian-handbook/html/en-US"))


def src_wordnet(root: Path) -> Iterator[str]:
    for pos in ("noun", "verb", "adj", "adv"):
        path = Path("/usr/share/wordnet") / f"data.{pos}"
        if not path.exists():
            continue
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" ") or "|" not in line:
                    continue  # licence header
                # Gloss: definition; "example"; "example" — keep the parts as sentences.
                for part in line.split("|", 1)[1].split(";"):
                    part = part.strip().strip('"').strip()
                    if part:
                        s = part[0].upper() + part[1:]
                        s = s if s.endswith((".", "!", "?")) else s + "."
                        if keep(s):
                            yield s


@dataclass(frozen=True)
class Source:
    name: str
    read: Callable[[Path], Iterator[str]]
    debian_package: str | None = None


SOURCES: tuple[Source, ...] = (
    Source("vaults", src_vaults),
    Source("sample_vault", src_sample_vault),
    Source("meetings", src_meetings),
    Source("science", src_science),
    Source("claimbuster", src_claimbuster),
    Source("python_docs", src_python_docs, DEBIAN_PACKAGES["python_docs"]),
    Source("linux_docs", src_linux_docs, DEBIAN_PACKAGES["linux_docs"]),
    Source("debian_handbook", src_debian_handbook, DEBIAN_PACKAGES["debian_handbook"]),
    Source("wordnet", src_wordnet, DEBIAN_PACKAGES["wordnet"]),
)


def _dpkg_installed(package: str) -> bool:
    if not shutil.which("dpkg-query"):
        return False
    r = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_debian_package(package: str, *, install: bool = True) -> bool:
    """True if the package is installed (installing it with apt when root); never raises."""
    if _dpkg_installed(package):
        return True
    if not install or not shutil.which("apt-get"):
        log.info("corpus: apt-get unavailable; skipping %s", package)
        return False
    if os.geteuid() != 0:
        log.info("corpus: not root, cannot apt-get install %s; skipping it", package)
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", package]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        log.info("corpus: `%s` failed (%s); skipping it", " ".join(cmd), r.stderr.strip()[-200:])
        return False
    return True


# --- building -------------------------------------------------------------------------------


def build_corpus(
    out_dir: Path,
    *,
    max_sentences: int | None = None,
    seed: int = 0,
    sources: Iterable[str] | None = None,
    install: bool = True,
    data_root: Path | None = None,
) -> dict[str, int]:
    """Write OUT_DIR/<source>.txt and return the number of sentences kept per source."""
    root = data_root or labelled.data_root()
    wanted = set(sources) if sources is not None else {s.name for s in SOURCES}
    banned = labelled.held_out_texts()
    seen: set[str] = set()
    cap = int(max_sentences * MAX_SOURCE_SHARE) if max_sentences else None
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    pooled: dict[str, list[str]] = {}
    for src in SOURCES:
        if src.name not in wanted:
            continue
        if src.debian_package and not ensure_debian_package(src.debian_package, install=install):
            continue
        kept: list[str] = []
        dropped_held_out = 0
        for raw in src.read(root):
            # One sentence per line: fold \r, \u2028 and friends so a line is a sentence.
            s = " ".join(raw.split())
            key = labelled.normalise(s)
            if key in seen:
                continue
            if key in banned:
                dropped_held_out += 1
                continue
            seen.add(key)
            kept.append(s)
        if cap is not None and len(kept) > cap:
            kept = rng.sample(kept, cap)
        pooled[src.name] = kept
        log.info(
            "corpus: %-16s %7d sentences (%d held-out sentences dropped)",
            src.name,
            len(kept),
            dropped_held_out,
        )
    total = sum(len(v) for v in pooled.values())
    if max_sentences is not None and total > max_sentences:
        # Shrink every source by the same factor so the mix keeps its variety.
        factor = max_sentences / total
        pooled = {k: rng.sample(v, int(len(v) * factor)) for k, v in pooled.items()}
    for name, kept in pooled.items():
        path = out_dir / f"{name}.txt"
        path.write_text("".join(s + "\n" for s in kept), encoding="utf-8")
        counts[name] = len(kept)
    log.info("corpus: %d sentences in %s", sum(counts.values()), out_dir)
    return counts


def load_transfer(folder: Path, limit: int | None = None, seed: int = 0) -> list[str]:
    """Sentences from every .txt (or .txt.gz) file under `folder`: one per line, deduplicated,
    shuffled with `seed`, at most `limit`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} is not a folder of .txt files; run `python -m "
            "vaultkd.train.corpus OUT_DIR` or point to your own text"
        )
    seen: set[str] = set()
    out: list[str] = []
    paths = sorted(folder.rglob("*.txt")) + sorted(folder.rglob("*.txt.gz"))
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                s = line.strip()
                if s and s not in seen:
                    seen.add(s)
                    out.append(s)
    random.Random(seed).shuffle(out)
    return out[:limit] if limit is not None else out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vaultkd.train.corpus", description=__doc__)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--max", type=int, default=None, help="at most N sentences in all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--sources",
        default=None,
        help="comma-separated subset of: " + ",".join(s.name for s in SOURCES),
    )
    ap.add_argument("--no-install", action="store_true", help="never call apt-get")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        counts = build_corpus(
            args.out_dir,
            max_sentences=args.max,
            seed=args.seed,
            sources=args.sources.split(",") if args.sources else None,
            install=not args.no_install,
        )
    except labelled.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    (args.out_dir / "counts.json").write_text(json.dumps(counts, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
