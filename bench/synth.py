"""A realistic synthetic Obsidian vault, for benchmarks (graph, distill, daemon).

`make_vault(root, n_notes=10_000, seed=0)` writes notes in a dozen folders: frontmatter (tags,
aliases, dates, property links), headings, prose of 100-1500 words built from sentence
templates (claims, questions, decisions, actions, context, as in LABELS.md), bullet lists,
tasks, callouts, code blocks, block ids, wikilinks in every form (about one per 60 words,
popular notes linked far more often than others), a few unresolved links, same-name notes in
different folders, embeds of attachments and Markdown links. The same seed gives the same
bytes. Run it as a script to write a vault: `python bench/synth.py OUT_DIR [N] [SEED]`.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

FOLDERS = [
    "Daily", "Meetings", "Projects", "Reading", "Research", "People", "Topics", "Journal",
    "Lectures", "Incidents", "Archive/2024", "Archive/2025", "Inbox",
]
FIRST = "Alice Bob Priya Lena Omar Dana Sam Mei Jonas Aisha Tomas Yuki Carlos Nadia Lee".split()
LAST = "Chen Okafor Raman Fischer Haddad Kim Whitfield Novak Silva Tanaka Berg Costa Ito".split()
ADJ = """offline stable flaky manual shared weekly slow fast local remote final early small
large hidden open private public legacy modern simple careful costly cheap noisy quiet
secure mobile central partial visible daily quarterly critical optional""".split()
NOUN = """sync queue release pipeline budget roadmap survey cache index schema contract
pricing page onboarding flow dashboard metric review backlog migration rollout outage
incident design prototype interview dataset model experiment lecture chapter essay
workshop sprint retro launch server client database feature experiment report grant
checklist handover policy template benchmark""".split()
VERB = """ship test review draft update migrate measure automate simplify document replace
benchmark publish schedule retire refactor deploy audit compare summarize""".split()
PLACE = "library annex, main office, small meeting room, cafe downstairs, video call".split(", ")
DAY = "Monday Tuesday Wednesday Thursday Friday".split()
TAGS = """project meeting reading research idea journal incident lecture people topic
review planning learning health writing sync/queue sync/conflicts work/ops work/hiring
product/pricing product/mobile""".split()
CLAIMS = [
    "The {adj} {noun} slows every {noun2} because nobody owns the {noun3}.",
    "Most of the {noun} problems come from the {adj} {noun2}, not from the {noun3}.",
    "A {adj} {noun} is cheaper to {verb} than a {adj2} one.",
    "Teams that {verb} the {noun} early spend less time on the {noun2} later.",
    "The {noun} grew by {num} percent after the {adj} {noun2} went live.",
    "{name} showed that the {noun} fails when the {noun2} is {adj}.",
    "Spaced practice beats rereading when the {noun} is {adj}.",
    "Every {noun} waits on the {adj} {noun2}, which now takes {num} days.",
]
QUESTIONS = [
    "Who owns the {noun} after {name} leaves?",
    "Do we need a {adj} {noun} before the {noun2} ships?",
    "Is the {noun} still {adj} once the {noun2} is in place?",
    "It is still unclear whether the {noun} covers the {noun2}.",
    "Not sure the {noun} represents the {adj} {noun2} well.",
    "Why does the {noun} take {num} minutes on a {adj} {noun2}?",
]
DECISIONS = [
    "We decided to {verb} the {noun} before the next {noun2}.",
    "We'll go with the {adj} {noun} for now.",
    "From now on, every {noun} gets a {noun2} section.",
    "Agreed: the {adj} {noun} is out of scope for this {noun2}.",
    "Sticking with the current {noun} until the {noun2} is done.",
]
ACTIONS = [
    "{name} to {verb} the {noun} by {day}.",
    "{name} will {verb} the {adj} {noun} before the {noun2}.",
    "Email {name} about the {noun}.",
    "Book a slot to {verb} the {noun} with {name}.",
]
CONTEXT = [
    "{num} of us met in the {place}.",
    "Found this through a note from {name}.",
    "The call ran long, so we skipped the {noun}.",
    "I picked this up on a {day} morning after the {noun}.",
]
HEADINGS = ["Summary", "Notes", "Background", "Decisions", "Open questions", "Actions",
            "Details", "Next steps", "Risks", "Ideas", "References", "Timeline"]


class _Writer:
    def __init__(self, rng: random.Random, titles: list[str], paths: list[str],
                 attachments: list[str]) -> None:
        self.rng = rng
        self.titles = titles
        self.paths = paths
        self.attachments = attachments
        # Popular notes get most links: a Zipf-like weight by rank.
        self.weights = [1.0 / (i + 1) ** 0.8 for i in range(len(titles))]
        self.cum: list[float] = []
        total = 0.0
        for w in self.weights:
            total += w
            self.cum.append(total)

    def pick_index(self) -> int:
        from bisect import bisect_left

        return min(bisect_left(self.cum, self.rng.random() * self.cum[-1]), len(self.cum) - 1)

    def fill(self, template: str) -> str:
        r = self.rng
        return template.format(
            adj=r.choice(ADJ), adj2=r.choice(ADJ), noun=r.choice(NOUN), noun2=r.choice(NOUN),
            noun3=r.choice(NOUN), verb=r.choice(VERB), num=r.randint(2, 90),
            name=f"{r.choice(FIRST)}", day=r.choice(DAY), place=r.choice(PLACE),
        )

    def link(self) -> str:
        r = self.rng
        x = r.random()
        if x < 0.03:
            return f"[[{r.choice(ADJ).title()} {r.choice(NOUN)} notes]]"  # unresolved
        i = self.pick_index()
        title, path = self.titles[i], self.paths[i]
        if x < 0.55:
            return f"[[{title}]]"
        if x < 0.70:
            return f"[[{title}|{r.choice(ADJ)} {r.choice(NOUN)}]]"
        if x < 0.80:
            return f"[[{title}#{r.choice(HEADINGS)}]]"
        if x < 0.88:
            return f"[[{path[:-3]}]]"
        if x < 0.92:
            return f"[[{title}#^b{r.randint(1, 40)}]]"
        if x < 0.96 and self.attachments:
            return f"![[{r.choice(self.attachments).rsplit('/', 1)[-1]}]]"
        return f"[{r.choice(NOUN)}]({path.replace(' ', '%20')})"

    def sentence(self) -> str:
        r = self.rng
        x = r.random()
        pool = (CLAIMS if x < 0.5 else QUESTIONS if x < 0.62 else DECISIONS if x < 0.74
                else ACTIONS if x < 0.84 else CONTEXT)
        s = self.fill(r.choice(pool))
        if r.random() < 0.16:
            words = s.split(" ")
            k = r.randrange(1, len(words))
            words.insert(k, self.link())
            s = " ".join(words)
        if r.random() < 0.04:
            s = s.replace(" the ", " the ==", 1).rstrip(".?") + "==."
        if r.random() < 0.02:
            s += f" #{r.choice(TAGS)}"
        return s

    def body(self, n_words: int, title: str) -> str:
        r = self.rng
        out: list[str] = [f"# {title}\n"]
        words = 0
        block = 0
        while words < n_words:
            x = r.random()
            if x < 0.12:
                out.append(f"## {r.choice(HEADINGS)}\n")
            elif x < 0.62:
                sents = [self.sentence() for _ in range(r.randint(2, 7))]
                para = " ".join(sents)
                if r.random() < 0.1:
                    block += 1
                    para += f" ^b{block}"
                out.append(para + "\n")
                words += para.count(" ") + 1
            elif x < 0.80:
                items = []
                for _ in range(r.randint(2, 6)):
                    item = self.sentence()
                    items.append(f"- {item}")
                    words += item.count(" ") + 1
                out.append("\n".join(items) + "\n")
            elif x < 0.90:
                tasks = []
                for _ in range(r.randint(1, 4)):
                    mark = "x" if r.random() < 0.3 else " "
                    t = self.fill(r.choice(ACTIONS))
                    tasks.append(f"- [{mark}] {t}")
                    words += t.count(" ") + 1
                out.append("\n".join(tasks) + "\n")
            elif x < 0.95:
                kind = r.choice(["note", "tip", "warning", "summary"])
                s = self.sentence()
                out.append(f"> [!{kind}] {r.choice(ADJ).title()} {r.choice(NOUN)}\n> {s}\n")
                words += s.count(" ") + 4
            elif x < 0.98:
                out.append(f"```python\n# [[Not a link]] #not-a-tag\n{r.choice(VERB)}_"
                           f"{r.choice(NOUN)}(x={r.randint(1, 9)})\n```\n")
            else:
                out.append(f"Some `inline [[code]]` and $x^{r.randint(2, 4)}$ math, "
                           f"%% a comment with [[Hidden]] %% and {self.link()}.\n")
        return "\n".join(out)


def _titles(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(folder, title) pairs; ~1% share a title with a note in another folder."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < n:
        folder = rng.choice(FOLDERS)
        if folder == "People":
            title = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        elif folder == "Daily":
            title = f"20{rng.randint(20, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        else:
            title = f"{rng.choice(ADJ).title()} {rng.choice(NOUN)} {rng.choice(NOUN)}"
        if title in seen:
            if rng.random() < 0.01:
                out.append((rng.choice(FOLDERS), title))  # a same-name note elsewhere
            title = f"{title} {len(out)}"
        if title in seen:
            continue
        seen.add(title)
        out.append((folder, title))
    return out


def make_vault(root: Path, n_notes: int = 10_000, seed: int = 0) -> None:
    """Write a synthetic vault of `n_notes` notes (plus attachments) under `root`."""
    rng = random.Random(seed)
    root = Path(root)
    pairs = _titles(rng, n_notes)
    paths: list[str] = []
    used: set[str] = set()
    for folder, title in pairs:
        path = f"{folder}/{title}.md"
        if path.lower() in used:
            path = f"{folder}/{title} ({len(paths)}).md"
        used.add(path.lower())
        paths.append(path)
    titles = [p.rsplit("/", 1)[-1][:-3] for p in paths]
    attachments = [f"attachments/figure-{i:04d}.png" for i in range(max(1, n_notes // 50))]
    writer = _Writer(rng, titles, paths, attachments)
    (root / "attachments").mkdir(parents=True, exist_ok=True)
    for a in attachments:
        (root / a).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(24))
    (root / ".obsidian").mkdir(exist_ok=True)
    (root / ".obsidian" / "app.json").write_text("{}\n")
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for path, title in zip(paths, titles, strict=True):
        # Note sizes are skewed like real vaults: many short notes, a few long ones.
        n_words = int(min(1500, max(100, rng.lognormvariate(5.9, 0.6))))
        parts: list[str] = []
        if rng.random() < 0.85:
            fm = [f"created: 20{rng.randint(20, 26)}-{rng.randint(1, 12):02d}-"
                  f"{rng.randint(1, 28):02d}"]
            fm.append(f"tags: [{', '.join(rng.sample(TAGS, rng.randint(1, 3)))}]")
            if rng.random() < 0.2:
                fm.append(f"aliases: [{rng.choice(ADJ).title()} {title}]")
            if rng.random() < 0.3:
                fm.append(f'related: "{writer.link()}"')
            parts.append("---\n" + "\n".join(fm) + "\n---\n")
        parts.append(writer.body(n_words, title))
        (root / path).write_text("".join(parts), encoding="utf-8")


if __name__ == "__main__":
    out = Path(sys.argv[1])
    make_vault(out, int(sys.argv[2]) if len(sys.argv) > 2 else 10_000,
               int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(f"wrote {out}")
