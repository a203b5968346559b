"""The data distillation produces: plain frozen dataclasses, no I/O, no model code.

The pipeline codes against these; `distill/` fills them from a `Note` and `Predictions`.
Offsets (`source_start`, `source_end`) are `str` indices into `Note.text`, lines are 1-based,
as everywhere in vaultkd (see `vaultkd/vault/note.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from vaultkd.vault.inline import LinkSpan
from vaultkd.vault.note import Task

SentenceKind = Literal["prose", "list_item", "task"]

# Progressive summarization layers (Tiago Forte): 0 plain, 2 bold, 3 highlight, 4 summary.
# Layer 1 is the note itself, so no sentence carries it.
LAYER_NONE = 0
LAYER_BOLD = 2
LAYER_HIGHLIGHT = 3
LAYER_SUMMARY = 4


@dataclass(frozen=True, slots=True)
class Sentence:
    """One unit the model sees: a sentence of prose, a list item sentence or a task line."""

    text: str  # plain text (markup stripped) as given to the model; tasks as "- [ ] text"
    source_start: int  # offset in Note.text of the sentence's first source character
    source_end: int  # exclusive offset in Note.text
    line: int  # 1-based line of source_start
    block_index: int  # index into Note.blocks
    kind: SentenceKind
    section: str | None = None  # nearest heading above, for [[Note#Heading]] links
    block_id: str | None = None  # existing ^id of the block, if any
    task: Task | None = None  # the source task when kind == "task"
    # [start, end) offsets in `text` of what was inline code in the note: a copy shows it as
    # code again, so `#fff` or `![[x]]` in backticks never turns into a tag or an embed
    code: tuple[tuple[int, int], ...] = ()
    # The links the sentence shows, as offsets in `text` and where they go (`LinkSpan`): a
    # copy links where the user linked ("The [[Team Offsite|offsite]] moves to May.")
    links: tuple[LinkSpan, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    sentence: Sentence
    role: str  # one of vaultkd.roles.ROLES
    role_probs: tuple[float, ...]  # in ROLES order, rounded
    salience: float  # rounded, in [0, 1]
    layer: int = LAYER_NONE  # 0 none, 2 bold, 3 highlight, 4 summary


@dataclass(frozen=True, slots=True)
class Item:
    """An entry under Key claims / Open questions / Decisions / Actions."""

    text: str  # what is shown (for a new action: the imperative text; tasks keep their text)
    sentence_index: int  # index into Distillation.sentences
    confidence: float  # role probability, rounded
    existing_task: bool = False  # an existing "- [ ]" task of the source (kept verbatim)
    done: bool = False  # the source task is checked
    status: str = " "  # the source task's box character (" ", "x", "-" cancelled, "/" …)
    code: tuple[tuple[int, int], ...] = ()  # inline code in `text` (see Sentence.code)
    links: tuple[LinkSpan, ...] = ()  # links in `text` (see Sentence.links)


@dataclass(frozen=True, slots=True)
class AtomicIdea:
    title: str  # safe, unique file name stem (see distill.titles)
    claim: int  # index into Distillation.sentences of the key claim
    support: tuple[int, ...] = ()  # indices of supporting sentences, in note order
    anchor: str | None = None  # "^blockid" when the claim's block has/gets an id, else heading
    related: tuple[str, ...] = ()  # vault paths of related notes (from connections)


@dataclass(frozen=True, slots=True)
class Connection:
    target: str  # vault-relative path of the other note
    score: float  # rounded, higher is closer
    linked: bool  # the note already links to (or is linked from) the target
    via: str = ""  # "link", "embedding", "graph" or "embedding+graph"


@dataclass(frozen=True, slots=True)
class Distillation:
    note_path: str
    too_short: bool
    sentences: tuple[ScoredSentence, ...] = ()
    summary: tuple[int, ...] = ()  # sentence indices of the executive summary, in note order
    claims: tuple[Item, ...] = ()
    questions: tuple[Item, ...] = ()
    decisions: tuple[Item, ...] = ()
    actions: tuple[Item, ...] = ()
    atomic: tuple[AtomicIdea, ...] = ()
    connections: tuple[Connection, ...] = ()
    reason: str = ""  # why the note is too short, in words, when too_short
    # Under --block-refs: (block index, id without caret) for cited blocks that have no ^id
    # yet; the writer appends ` ^id` to those blocks and nothing else.
    new_block_ids: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Rendered:
    """A file to write; the writer adds `vaultkd:` hashes and serialises the frontmatter."""

    rel_path: str  # vault-relative POSIX path
    frontmatter: dict[str, Any] = field(default_factory=dict)
    body: str = ""


def text_key(text: str) -> str:
    """What two sentences share when they say the same words (case and spacing aside)."""
    return " ".join(text.casefold().split())
