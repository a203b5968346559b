"""Distillations as Markdown an Obsidian user recognises, and as the `--json` report.

Everything here is a pure function of its inputs: no timestamps, stable order, floats already
rounded by `core`, so an unchanged note renders to the same bytes (the writer's idempotency
rests on it). Frontmatter is returned as a dict; the writer serialises it and adds hashes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import unquote

from vaultkd.config import Config
from vaultkd.distill.anchors import anchor_for, link_target, wikilink
from vaultkd.distill.types import (
    LAYER_BOLD,
    LAYER_HIGHLIGHT,
    AtomicIdea,
    Distillation,
    Item,
    Rendered,
    ScoredSentence,
    Sentence,
)
from vaultkd.roles import ROLES
from vaultkd.vault.inline import LinkSpan, literal, to_plain
from vaultkd.vault.note import Note
from vaultkd.vault.resolve import Resolution
from vaultkd.vault.tags import escape_tags, strip_edge_tags
from vaultkd.vault.wikilink import split_wikilink

REGION_BEGIN = "%% vaultkd:begin %%"
REGION_END = "%% vaultkd:end %%"
_REGION = re.compile(
    re.escape(REGION_BEGIN) + r".*?" + re.escape(REGION_END) + r"[ \t]*(\r?\n)?", re.S
)
# A list item starting with these would turn into a heading, quote or nested list.
_BLOCK_START = re.compile(r"^(#|>|[-+*] |\d+[.)] |\||```|~~~|%%)")
MAX_RELATED = 5


def region_span(text: str) -> tuple[int, int] | None:
    """Offsets of vaultkd's marked region in a source note (inline mode), if present."""
    m = _REGION.search(text)
    return (m.start(), m.end()) if m else None


_TICKS = re.compile(r"`+")


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Inline code spans of Markdown the user wrote (a task's own text), as CommonMark reads
    them: a run of backticks opens one, the next run of the same length closes it, and a run
    with no match is literal. Linear: each run's next run of equal length is found once."""
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(text)]
    following: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        width = runs[i][1] - runs[i][0]
        following[i] = last.get(width)
        last[width] = i
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        j = following[i]
        if j is None:
            i += 1
        else:
            spans.append((runs[i][0], runs[j][1]))
            i = j + 1
    return spans


def _code_span(text: str) -> str:
    fence = "`" * (max(map(len, _TICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class LinkResolver(Protocol):
    """Where a link of the vault goes, as Obsidian resolves it (`VaultGraph.resolve`)."""

    def resolve(
        self, target: str, source_path: str, markdown: bool = False
    ) -> Resolution | None: ...


# A link's Markdown in a copy: (kind, destination, shown text) -> the link, or None to show
# the text alone. Built per generated file by `linker`.
LinkFn = Callable[[str, str, str], str | None]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_DESTINATION = re.compile(r"[ \t]*(?:<([^>\n]*)>|(\S*))")


def linker(note_path: str, out_path: str, links: LinkResolver | None) -> LinkFn:
    """How links the user wrote in `note_path` are written in a copy at `out_path`.

    A copy lives in another folder (`Distilled/…`, `Atomic/`), where the same link may resolve
    elsewhere: `[[Plan]]` reaches the `Plan.md` nearest the note that holds it (from
    `Distilled/Projects/` that is the distillation of `Projects/Plan.md`), and `[x](../plan.md)`
    is relative to it. So a link to a vault file points at it by its path, as the source's
    link resolves (`[[Projects/Plan|Plan]]`), and a link to a place in the note itself
    (`[[#Heading]]`, `[x](#heading)`) points into the source. A wikilink the vault does not
    resolve stays as written (an Obsidian user links notes before writing them), unless it is
    relative (`[[../x]]`: it would name another place from the copy). A Markdown link that
    resolves nowhere becomes its text; a URL is kept. Without a resolver (`links=None`) only
    what needs none is kept: wikilinks as written, URLs, and links into the note."""
    source = link_target(note_path)

    def wiki(dest: str, display: str) -> str | None:
        parts = split_wikilink(dest)
        if parts is None or any(c in display for c in "[]|"):
            return None
        sub = f"#^{parts.block}" if parts.block else f"#{parts.heading}" if parts.heading else ""
        target = parts.target
        if not target:
            target = "" if out_path == note_path else source
        elif links is not None:
            here = links.resolve(target, note_path)
            if here is None:
                if target.replace("\\", "/").split("/")[0] in (".", "..") or target[:1] in "/\\":
                    return None
            else:
                target = link_target(here.path)
        inner = target + sub
        return f"[[{inner}]]" if display == inner else f"[[{inner}|{display}]]"

    def markdown(dest: str, display: str) -> str | None:
        if any(c in display for c in "[]|"):
            return None
        m = _DESTINATION.match(dest)
        href = (m.group(1) if m.group(1) is not None else m.group(2)) if m else ""
        if href.startswith("//") or _SCHEME.match(href):
            if href in (display, f"mailto:{display}") and " " not in href:
                return f"<{href if href == display else display}>"  # written as `<…>`
            return f"[{display}]({dest})"  # a URL: the same from anywhere
        path, _, fragment = href.partition("#")
        path, fragment = unquote(path), unquote(fragment).strip()
        if any(c in fragment for c in "[]|"):
            return None
        sub = f"#{fragment}" if fragment else ""
        if not path:
            target = "" if out_path == note_path else source
        else:
            found = links.resolve(path, note_path, markdown=True) if links is not None else None
            if found is None:
                return None
            target = link_target(found.path)
        return f"[[{target}{sub}|{display}]]"

    def link(kind: str, dest: str, display: str) -> str | None:
        return wiki(dest, display) if kind == "wiki" else markdown(dest, display)

    return link


def _inline_text(
    text: str, code: Sequence[tuple[int, int]] = (), *, markdown: bool = False,
    links: Sequence[LinkSpan] = (), link: LinkFn | None = None,
) -> str:
    """A sentence copied into a generated note, on one line.

    `text` is the plain text the model read, with its inline code at `code` put back in
    backticks (plain text has lost them, and "`![[x]]`" copied bare would become an embed)
    and its `links` written by `link` (the text alone without one); with `markdown`, it is
    the user's own Markdown (a task's text), whose code spans are kept.
    Tags outside code and links stay visible but escaped (`\\#tag`): a live copy would count
    the user's tag a second time in the tag pane and put generated notes into tag searches
    (e.g. `#todo` lists), the way a `- [ ]` copy would duplicate a task."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    if markdown:
        text = " ".join(text.split())
        for a, b in _code_spans(text):
            pieces += _task_links(text[pos:a], link) + [(text[a:b], True)]
            pos = b
        pieces += _task_links(text[pos:], link)
        pos = len(text)
    else:
        # (start, end, what to write): inline code, and the links that are written as links
        spans = [(a, b, _code_span(text[a:b])) for a, b in code]
        if link is not None and links:
            for a, b, kind, dest in links:
                # A link around code ("[`x`](url)") is shown as its code alone.
                if b <= len(text) and not any(c0 < b and a < c1 for c0, c1 in code):
                    shown = link(kind, dest, text[a:b])
                    if shown is not None:
                        spans.append((a, b, shown))
            spans.sort()
        for a, b, shown in spans:
            pieces += [(text[pos:a], False), (shown, True)]
            pos = b
    pieces.append((text[pos:], False))
    if not markdown:
        # Plain text read as Markdown again: what the user escaped stays escaped, so
        # a sentence with "\[\[x\]\]" copied holds no link, nor one with "\==x\==" a highlight.
        pieces = [
            (piece if kept else literal(piece, line_start=i == 0), kept)
            for i, (piece, kept) in enumerate(pieces)
        ]
    out = "".join(piece if kept else escape_tags(piece) for piece, kept in pieces)
    return "\\" + out if _BLOCK_START.match(out) else out


# A link in Markdown the user wrote (a task's text): a wikilink (not an embed) or a Markdown
# link, as `vaultkd.vault.inline` reads them (with its bounds, which keep this linear).
_MARKDOWN_LINK = re.compile(
    r"(?<!!)\[\[(?P<inner>[^\[\]\n]+)\]\]"
    r"|(?<!!)\[(?P<text>[^\]\n]{1,1000})\]\("
    r"(?P<dest>(?:<[^>\n]{0,2000}>|[^)\s]{0,2000})(?:[ \t]+\"[^\"\n]{0,1000}\")?)\)"
)


def _task_links(text: str, link: LinkFn | None) -> list[tuple[str, bool]]:
    """Pieces of a task's own Markdown (outside code) with each link written by `link`, so a
    task copied into `Distilled/` links where the task links; a link `link` cannot write
    keeps its text. (piece, True) pieces are final; the others still get their tags escaped."""
    if link is None or "[" not in text:
        return [(text, False)]
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _MARKDOWN_LINK.finditer(text):
        out.append((text[pos : m.start()], False))
        pos = m.end()
        if m.group("inner") is not None:
            inner = m.group("inner")
            cut = inner.find("|")
            dest = inner if cut < 0 else inner[: cut - 1 if inner[cut - 1 : cut] == "\\" else cut]
            # What the user wrote is what the copy shows: the alias, else the target as written.
            alias = inner[cut + 1 :].strip() if cut >= 0 else ""
            shown = alias or dest.strip()
            written = link("wiki", dest, shown) if shown else None
            shown = shown if written is not None else to_plain(m.group()).text
        else:
            shown = to_plain(m.group("text")).text
            written = link("md", m.group("dest"), shown) if shown else None
        out.append((written, True) if written is not None else (shown, False))
    out.append((text[pos:], False))
    return out


def _sentence_text(s: Sentence, link: LinkFn | None = None) -> str:
    return _inline_text(s.text, s.code, links=s.links, link=link)


def _emphasis(text: str, layer: int) -> str:
    if layer >= LAYER_HIGHLIGHT:
        return f"=={text}=="
    if layer == LAYER_BOLD:
        return f"**{text}**"
    return text


def _source_link(d: Distillation, note: Note, sentence_index: int) -> str:
    block_index = d.sentences[sentence_index].sentence.block_index
    new_ids = dict(d.new_block_ids)
    anchor = anchor_for(note.blocks[block_index], new_ids.get(block_index))
    return wikilink(note.path, anchor)


def _item_line(
    d: Distillation, note: Note, item: Item, emphasise: bool = False, link: LinkFn | None = None
) -> str:
    text = _inline_text(
        item.text, item.code, markdown=item.existing_task, links=item.links, link=link
    )
    if emphasise:
        text = _emphasis(text, d.sentences[item.sentence_index].layer)
    return f"- {text} ({_source_link(d, note, item.sentence_index)})"


# Marks of the source's own tasks. A `- [ ]` copy would be a second task: listed twice by
# the Tasks plugin and Obsidian's task search (with its due date), and ticking it would not
# tick the original, only make this generated note "edited" and so never updated again.
OPEN_TASK, DONE_TASK, CANCELLED_TASK = "☐", "☑", "☒"


def _action_line(
    d: Distillation, note: Note, item: Item, new_tasks: bool = True, link: LinkFn | None = None
) -> str:
    if item.existing_task:
        # "-" is the Tasks plugin's cancelled; other custom states ("/", ">") are still open.
        box = DONE_TASK if item.done else CANCELLED_TASK if item.status == "-" else OPEN_TASK
    else:
        # An action the note implies, not yet a task anywhere: a task here, unless the vault
        # asks for none (`new_tasks = false`).
        box = "[ ]" if new_tasks else OPEN_TASK
    text = _inline_text(
        item.text, item.code, markdown=item.existing_task, links=item.links, link=link
    )
    return f"- {box} {text} ({_source_link(d, note, item.sentence_index)})"


def atomic_path(config: Config, idea: AtomicIdea) -> str:
    return f"{config.atomic_folder}/{idea.title}.md"


def distilled_path(config: Config, note: Note) -> str:
    stem = note.path[:-3] if note.path.lower().endswith(".md") else note.path
    return f"{config.distilled_folder}/{stem}.md"


def _frontmatter(kind: str, note: Note, model_version: str, tag: str) -> dict[str, Any]:
    return {
        "vaultkd": {
            "kind": kind,
            "source": f"[[{link_target(note.path)}]]",
            "model": model_version,
        },
        "tags": [tag],
    }


# Ends a sentence: terminal punctuation, then any closing quotes or brackets.
_ENDED = re.compile(r"[.!?…:;][\"'”’)\]*_`]*$")


def _summary_sentence(s: Sentence, link: LinkFn | None = None) -> str:
    # Tags after a sentence label it for the user's own search; in a summary they are noise
    # (unless they are inline code or a link's text, which stay).
    text = strip_edge_tags(s.text)
    if any(b > len(text) for _, b in s.code) or any(x[1] > len(text) for x in s.links):
        text = s.text
    return _inline_text(text, s.code, links=s.links, link=link)


def summary_text(d: Distillation, link: LinkFn | None = None) -> str:
    # List items often end without a full stop; run together they would read as one sentence
    # ("… do show up But some …"), so the summary ends each that lacks one.
    texts = [_summary_sentence(d.sentences[i].sentence, link) for i in d.summary]
    return " ".join(t if _ENDED.search(t) else t + "." for t in texts)


def _tasks_only(d: Distillation) -> str:
    # Only a note of tasks (and fragments) alone has no summary sentences; say so rather than
    # string its task lines together.
    own = [it for it in d.actions if it.existing_task]
    done = sum(it.done for it in own)
    cancelled = sum(not it.done and it.status == "-" for it in own)
    also = f", {cancelled} cancelled" if cancelled else ""
    return f"Tasks only: {len(own) - done - cancelled} open, {done} done{also}; see Actions."


def render_distillation(
    d: Distillation, note: Note, config: Config, model_version: str,
    links: LinkResolver | None = None,
) -> Rendered:
    """The distillation note `Distilled/<same folders>/<name>.md`; `links` resolves the links
    of copied sentences (see `linker`)."""
    out_path = distilled_path(config, note)
    link = linker(note.path, out_path, links)
    lines: list[str] = []
    if d.too_short:
        lines += [f"> [!info] {note.title}: too short to distil", f"> {d.reason}"]
    else:
        lines += [f"> [!summary] {note.title}", f"> {summary_text(d, link) or _tasks_only(d)}"]
        sections: list[tuple[str, list[str]]] = [
            ("Key claims", [_item_line(d, note, it, True, link) for it in d.claims]),
            ("Open questions", [_item_line(d, note, it, link=link) for it in d.questions]),
            ("Decisions", [_item_line(d, note, it, link=link) for it in d.decisions]),
            ("Actions", [_action_line(d, note, it, config.new_tasks, link) for it in d.actions]),
        ]
        if d.atomic:
            links = [wikilink(atomic_path(config, a), alias=a.title) for a in d.atomic]
            sections.append(("Atomic notes", [f"- {link}" for link in links]))
        for heading, body in sections:
            if body:
                lines += ["", f"## {heading}", *body]
    if d.connections:
        lines += ["", "## Connections"]
        for c in d.connections:
            if c.linked and round(c.score, 2) == 0:
                # A linked note with nothing to compare (a category or people page without
                # prose, no shared neighbours): "linked, 0.00" would read as "unrelated".
                how = "linked"
            else:
                how = f"linked, {c.score:.2f}" if c.linked else f"suggested, {c.score:.2f}"
            lines.append(f"- {wikilink(c.target)} ({how})")
    return Rendered(
        rel_path=out_path,
        frontmatter=_frontmatter("distillation", note, model_version, "distilled"),
        body="\n".join(lines) + "\n",
    )


def render_atomic(
    d: Distillation, note: Note, config: Config, model_version: str,
    links: LinkResolver | None = None,
) -> list[Rendered]:
    """One note per atomic idea under `Atomic/`: the claim, its support, the way back."""
    out: list[Rendered] = []
    for idea in d.atomic:
        link = linker(note.path, atomic_path(config, idea), links)
        lines = [_sentence_text(d.sentences[idea.claim].sentence, link)]
        if idea.support:
            lines += ["", "## Support"]
            lines += [f"- {_sentence_text(d.sentences[j].sentence, link)}" for j in idea.support]
        lines += ["", f"Source: {wikilink(note.path, idea.anchor)}"]
        siblings = [wikilink(atomic_path(config, a), alias=a.title) for a in d.atomic if a != idea]
        related = ([wikilink(p) for p in idea.related] + siblings)[:MAX_RELATED]
        if related:
            lines.append("Related: " + " · ".join(related))
        out.append(
            Rendered(
                rel_path=atomic_path(config, idea),
                frontmatter=_frontmatter("atomic", note, model_version, "atomic"),
                body="\n".join(lines) + "\n",
            )
        )
    return out


def _can_wrap(text: str, start: int, end: int, multiline_ok: bool) -> bool:
    """Whether `**…**`/`==…==` around text[start:end] keeps the Markdown intact."""
    piece = text[start:end]
    if not piece or piece != piece.strip():
        return False
    if "\n" in piece and not multiline_ok:
        return False
    # Existing markup inside or right around the span (including our own from a previous run)
    # means wrapping could break it; leaving the sentence plain is always safe.
    if any(tok in piece for tok in ("**", "==", "`", "$", "%%", "<", "__", "~~", "^")):
        return False
    if piece.count("[") != piece.count("]") or piece.count("(") != piece.count(")"):
        return False
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before not in "*=_~`[(|#" and after not in "*=_~`])|"


def render_inline(note: Note, d: Distillation, links: LinkResolver | None = None) -> str:
    """The source note with layers marked in place and the summary in vaultkd's region.

    Only the chosen sentences gain `**`/`==` markers and only the region between
    `%% vaultkd:begin %%` and `%% vaultkd:end %%` is (re)written; every other character is
    kept. Returns the text without BOM, with the note's own line endings.
    """
    text = note.text
    nl = note.newline
    edits: list[tuple[int, int, str]] = []
    if not d.too_short:
        for s in d.sentences:
            sent = s.sentence
            if s.layer < LAYER_BOLD or sent.kind == "task":  # task metadata must stay parseable
                continue
            multiline = note.blocks[sent.block_index].kind == "paragraph"
            if _can_wrap(text, sent.source_start, sent.source_end, multiline):
                mark = "==" if s.layer >= LAYER_HIGHLIGHT else "**"
                edits.append((sent.source_start, sent.source_start, mark))
                edits.append((sent.source_end, sent.source_end, mark))
    existing = region_span(text)
    region = ""
    if not d.too_short and d.summary:
        region = (
            nl.join(
                [
                    REGION_BEGIN,
                    "> [!summary] vaultkd summary",
                    f"> {summary_text(d, linker(note.path, note.path, links))}",
                    "",
                    REGION_END,
                ]
            )
            + nl
        )
    if existing:
        end = existing[1]
        # A region at the very start is followed by the blank line we added with it.
        edits.append((existing[0], end, region))
    elif region:
        edits.append((note.body_start, note.body_start, region + nl))
    out = text
    for start, end, repl in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + repl + out[end:]
    return out


def _texts(d: Distillation, items: Sequence[Item]) -> list[str]:
    return [it.text for it in items]


def to_report(d: Distillation, config: Config) -> dict[str, Any]:
    """The `--json` object for one note; the pipeline adds `written` and `kept`."""
    return {
        "note": d.note_path,
        "too_short": d.too_short,
        "sentences": [_sentence_report(s) for s in d.sentences],
        "summary": [d.sentences[i].sentence.text for i in d.summary],
        "claims": _texts(d, d.claims),
        "questions": _texts(d, d.questions),
        "decisions": _texts(d, d.decisions),
        "actions": _texts(d, d.actions),
        "atomic": [
            {
                "title": a.title,
                "path": atomic_path(config, a),
                "sentences": [d.sentences[i].sentence.text for i in (a.claim, *a.support)],
            }
            for a in d.atomic
        ],
        "connections": [
            {"target": c.target, "score": c.score, "linked": c.linked} for c in d.connections
        ],
    }


def _sentence_report(s: ScoredSentence) -> dict[str, Any]:
    return {
        "text": s.sentence.text,
        "role": s.role,
        "role_probs": dict(zip(ROLES, s.role_probs, strict=True)),
        "salience": s.salience,
        "layer": s.layer,
    }
