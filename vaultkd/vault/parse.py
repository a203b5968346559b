"""Read one note: bytes -> `Note` with frontmatter, blocks, links, tags, headings, block ids, tasks.

markdown-it-py gives the block structure and runs the inline rules (wikilinks, tags, comments,
math, code); this module maps what they find back to exact offsets in `Note.text`. It never
writes and never touches the disk (`scan.read_note` does the reading).

Decisions worth knowing:
- Decoding: a UTF-8 BOM is stripped and recorded in `Note.bom`; CRLF is kept in `Note.text` and
  the dominant ending recorded in `Note.newline`. NUL bytes, UTF-16 or invalid UTF-8 raise
  `NoteReadError` (one line naming the file and what to do).
- Frontmatter: `---` on the first line up to the next `---` line (Obsidian accepts nothing else).
  YAML that does not parse, or is not a mapping, sets `frontmatter_error`; the note is still
  read (its body starts after the closing `---`) and nothing is ever rewritten.
- Notes longer than `PLAIN_TEXT_LIMIT` characters are read as plain text: frontmatter and
  blank-line separated paragraphs only, no links, tags or headings. Such a file is a log or a
  dump, not a note someone links from, and markdown-it would take tens of seconds on it.
- Line numbers are 1-based and count `\\n` only; offsets are `str` indexes into `Note.text`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from markdown_it import MarkdownIt, rules_inline
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from ruamel.yaml import YAML

from vaultkd.vault.comment import comment_plugin
from vaultkd.vault.errors import NoteReadError
from vaultkd.vault.note import Block, BlockId, BlockKind, Heading, Link, LinkKind, Note, Task
from vaultkd.vault.tags import frontmatter_tags, tag_plugin
from vaultkd.vault.wikilink import WIKILINK_RE, split_wikilink, wikilink_plugin

PLAIN_TEXT_LIMIT = 4_000_000  # characters; see the module docstring

_FM_OPEN = re.compile(r"---[ \t]*\r?\n")
_FM_CLOSE = re.compile(r"^---[ \t]*(?:\r?\n|\Z)", re.M)
_BLOCK_ID_END = re.compile(r"(?:^|[ \t])\^([A-Za-z0-9-]+)[ \t]*$")
_BLOCK_ID_ONLY = re.compile(r"[ \t]*\^([A-Za-z0-9-]+)[ \t]*")
TASK_RE = re.compile(r"[ \t>]*(?:[-*+]|\d+[.)])[ \t]+\[(.)\](?=[ \t]|$)[ \t]?(.*)")
_CALLOUT_RE = re.compile(r"[ \t]*>[ \t>]*\[!([^\]\n]+)\]")
_EMBEDS_ONLY = re.compile(r"(?:\s*!\[\[[^\[\]\n]+\]\])+\s*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_PLAIN_PARAGRAPH = re.compile(r"(?:[^\n]*\S[^\n]*(?:\n|$))+")


@lru_cache(maxsize=1)
def markdown() -> MarkdownIt:
    """The shared parser: CommonMark + tables + Obsidian syntax, inline rules kept to what
    decides whether something is a link (emphasis and typography never do)."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False)
    md.use(footnote_plugin)
    md.use(comment_plugin)
    md.use(wikilink_plugin)
    md.use(tag_plugin)
    # Inline footnotes `^[...]` would hide their links in env; read as text they keep them.
    md.disable(
        ["emphasis", "entity", "replacements", "smartquotes", "footnote_inline"],
        ignoreInvalid=True,
    )
    # Remember where a markdown link or image starts and ends in the inline source.
    md.inline.ruler.at("link", _with_span(rules_inline.link))
    md.inline.ruler.at("image", _with_span(rules_inline.image))
    return md


def _with_span(rule: Any) -> Any:
    def wrapped(state: Any, silent: bool) -> bool:
        start = state.pos
        count = len(state.tokens)
        ok = bool(rule(state, silent))
        if ok and not silent:
            # Pending text is flushed first, so the link token is not always the first new one.
            for tok in state.tokens[count:]:
                if tok.type in ("link_open", "image"):
                    tok.meta = {**(tok.meta or {}), "src_start": start, "src_end": state.pos}
                    break
        return ok

    return wrapped


# --------------------------------------------------------------------------- decoding


def decode_note(path: str, data: bytes) -> tuple[str, bool]:
    """Bytes -> (text without BOM, had_bom). Raises NoteReadError for anything not UTF-8 text."""
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        data = data[3:]
    elif data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise NoteReadError(path, "is UTF-16 text", "re-save it as UTF-8 to include it")
    if b"\x00" in data:
        raise NoteReadError(
            path,
            "looks binary (it contains NUL bytes)",
            "give it a non-.md extension if it is not a note",
        )
    try:
        return data.decode("utf-8"), bom
    except UnicodeDecodeError as e:
        raise NoteReadError(
            path,
            f"is not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})",
            "re-save it as UTF-8 to include it",
        ) from None


def parse_note(path: str, data: bytes) -> Note:
    text, bom = decode_note(path, data)
    return _parse(path, text, bom)


def parse_text(path: str, text: str) -> Note:
    bom = text.startswith("\ufeff")
    return _parse(path, text[1:] if bom else text, bom)


# --------------------------------------------------------------------------- frontmatter


def split_frontmatter(text: str) -> tuple[int, int, int] | None:
    """(yaml_start, yaml_end, body_start) of a frontmatter block, or None."""
    m = _FM_OPEN.match(text)
    if m is None:
        return None
    close = _FM_CLOSE.search(text, m.end())
    if close is None:
        return None
    return m.end(), close.start(), close.end()


@lru_cache(maxsize=1)
def _yaml() -> YAML:
    return YAML(typ="safe", pure=True)


@lru_cache(maxsize=1)
def _fast_loader() -> Any:
    """PyYAML's libyaml loader with YAML 1.2 scalars (as Obsidian reads them), or None.

    ruamel.yaml in pure Python takes ~1 ms per frontmatter, which alone would cost 10 s on a
    10,000-note vault; libyaml takes under 0.1 ms. YAML 1.1 quirks (`yes`/`on` as booleans,
    `1:20` as 80) are switched off so both loaders give the same values.
    """
    try:
        import yaml
        from yaml import CSafeLoader
    except ImportError:
        return None

    class Loader(CSafeLoader):
        pass

    resolvers: dict[Any, list[Any]] = {}
    for first, items in CSafeLoader.yaml_implicit_resolvers.items():
        kept = [(tag, rx) for tag, rx in items if not tag.endswith((":bool", ":int", ":float"))]
        if kept:
            resolvers[first] = kept
    Loader.yaml_implicit_resolvers = resolvers
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
        list("-+0123456789"),
    )
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+.0123456789"),
    )
    Loader.add_constructor("tag:yaml.org,2002:int", _construct_int12)
    return lambda raw: yaml.load(raw, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def _construct_int12(loader: Any, node: Any) -> int:
    # YAML 1.2: `012` is twelve, not octal ten.
    v = str(loader.construct_scalar(node))
    if v[1:3] in ("0o", "0x") or v[:2] in ("0o", "0x"):
        sign = -1 if v.startswith("-") else 1
        v = v.lstrip("+-")
        return sign * int(v[2:], 8 if v[1] == "o" else 16)
    return int(v, 10)


def load_frontmatter(raw: str, first_line: int) -> tuple[dict[str, Any], str | None]:
    """Parse YAML; on failure return ({}, one-line error). `first_line` is the YAML's line."""
    if not raw.strip():
        return {}, None
    fast = _fast_loader()
    try:
        data = fast(raw) if fast is not None else _yaml().load(raw)
    except Exception as e:  # both libraries raise several unrelated classes for bad YAML
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        where = f" at line {first_line + mark.line}" if mark is not None else ""
        return {}, f"invalid YAML in frontmatter{where}: {problem}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, f"frontmatter is a {type(data).__name__}, not a mapping of properties"
    return {str(k): v for k, v in data.items()}, None


def frontmatter_aliases(fm: dict[str, Any]) -> tuple[str, ...]:
    value = fm.get("aliases", fm.get("alias"))
    items: list[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = []
    out = [str(v).strip() for v in items if v is not None and not isinstance(v, dict | list)]
    return tuple(dict.fromkeys(a for a in out if a))


def dedupe_tags(tags: list[str]) -> tuple[str, ...]:
    """Obsidian tags are case-insensitive; keep the first spelling."""
    seen: dict[str, str] = {}
    for t in tags:
        seen.setdefault(t.lower(), t)
    return tuple(seen.values())


def frontmatter_links(text: str, yaml_start: int, yaml_end: int, lines: _Lines) -> list[Link]:
    """`"[[Link]]"` values of properties (lists too) are links, as in Obsidian."""
    links: list[Link] = []
    for m in WIKILINK_RE.finditer(text, yaml_start, yaml_end):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if text[line_start : m.start()].lstrip().startswith("#"):
            continue  # a YAML comment
        parts = split_wikilink(m.group(2))
        if parts is None:
            continue
        kind: LinkKind = "embed" if m.group(1) else "link"
        links.append(
            Link(kind, parts.target, parts.heading, parts.block, parts.display,
                 lines.line_of(m.start()), m.start(), m.end(), in_frontmatter=True)
        )
    return links


# --------------------------------------------------------------------------- lines


class _Lines:
    """Line starts of `Note.text`; line i (0-based) excludes its `\\r\\n`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        self.starts.extend(m.end() for m in re.finditer("\n", text))

    def __len__(self) -> int:
        return len(self.starts)

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, offset)

    def bounds(self, i: int) -> tuple[int, int]:
        start = self.starts[i]
        end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(self.text)
        if end > start and self.text[end - 1] == "\r":
            end -= 1
        return start, end

    def get(self, i: int) -> str:
        s, e = self.bounds(i)
        return self.text[s:e]


# --------------------------------------------------------------------------- the body


class _Reader:
    def __init__(self, text: str, lines: _Lines, base: int) -> None:
        self.text = text
        self.lines = lines
        self.base = base  # 0-based line index of the body's first line
        self.blocks: list[Block] = []
        self.headings: list[Heading] = []
        self.links: list[Link] = []
        self.tags: list[str] = []
        self.tasks: list[Task] = []
        self.table_cursor: dict[int, int] = {}

    # -- spans

    def span(self, a: int, b: int) -> tuple[int, int, int, int] | None:
        """Body-relative line range [a, b) -> (start, end, first_line, last_line) trimmed."""
        l0, l1 = self.base + a, min(self.base + b, len(self.lines))
        while l1 - 1 > l0 and not self.lines.get(l1 - 1).strip():
            l1 -= 1
        if l1 <= l0:
            return None
        s, _ = self.lines.bounds(l0)
        first = self.lines.get(l0)
        start = s + len(first) - len(first.lstrip())
        _, end = self.lines.bounds(l1 - 1)
        return start, max(start, end), l0 + 1, l1

    def add_block(
        self, kind: BlockKind, a: int, b: int, depth: int = 0,
        skip: tuple[tuple[int, int], ...] = (),
    ) -> Block | None:
        sp = self.span(a, b)
        if sp is None:
            return None
        start, end, line, end_line = sp
        block = Block(
            kind, start, end, line, end_line, self.text[start:end], depth=depth, skip=skip
        )
        self.blocks.append(block)
        return block

    # -- inline content -> source offsets

    def inline(self, tok: Token, in_table: bool = False) -> None:
        if not tok.children or tok.map is None:
            return
        wanted = [c for c in tok.children if c.meta and "src_start" in c.meta]
        if not wanted:
            return
        content = tok.content
        cl_starts = [0]
        cl_starts.extend(m.end() for m in re.finditer("\n", content))
        cols: dict[int, Any] = {}

        def to_source(p: int) -> int:
            j = bisect_right(cl_starts, p) - 1
            if j not in cols:
                c_end = cl_starts[j + 1] - 1 if j + 1 < len(cl_starts) else len(content)
                cols[j] = self._align(self.base + tok.map[0] + j, content[cl_starts[j] : c_end],
                                      in_table)
            line_idx, mapping = cols[j]
            col = p - cl_starts[j]
            s, e = self.lines.bounds(line_idx)
            src_col = mapping + col if isinstance(mapping, int) else mapping(col)
            return min(s + src_col, e)

        children = tok.children
        for child in children:
            if not child.meta or "src_start" not in child.meta:
                continue
            start = to_source(child.meta["src_start"])
            end = to_source(child.meta["src_end"] - 1) + 1
            line = self.lines.line_of(start)
            if child.type == "tag":
                self.tags.append(child.content)
            elif child.type == "wikilink":
                m = child.meta
                self.links.append(
                    Link(m["kind"], m["target"], m["heading"], m["block"], m["display"],
                         line, start, end)
                )
            elif child.type in ("link_open", "image"):
                # The label as written, so `[**b**](x.md)` keeps its markup for to_plain.
                raw = self.text[start:end]
                lead = 2 if child.type == "image" else 1
                close = raw.find("](", lead) if "[" not in raw[lead:] else _label_end(raw, lead)
                label = raw[lead:close] if close >= lead else None
                kind: LinkKind = "embed" if child.type == "image" else "markdown"
                href = child.attrGet("src" if child.type == "image" else "href")
                self._markdown_link(kind, href, label or None, line, start, end)

    def _align(self, line_idx: int, cline: str, in_table: bool) -> tuple[int, Any]:
        if line_idx >= len(self.lines):
            return len(self.lines) - 1, 0
        s = self.lines.get(line_idx)
        if in_table:
            cursor = self.table_cursor.get(line_idx, 0)
            idx = s.find(cline, cursor)
            if idx >= 0:
                self.table_cursor[line_idx] = idx + len(cline)
                return line_idx, idx
        else:
            if s.endswith(cline):
                return line_idx, len(s) - len(cline)
            rs, rc = s.rstrip(), cline.rstrip()
            if rc and rs.endswith(rc):
                return line_idx, len(rs) - len(rc)
            cursor = 0
        # Escaped pipes in table cells and expanded tabs: match characters greedily.
        mapping: list[int] = []
        j = cursor
        for ch in cline:
            k = s.find(ch, j)
            if k < 0:
                k = min(j, len(s))
            mapping.append(k)
            j = k + 1
        if in_table:
            self.table_cursor[line_idx] = j
        mapping.append(j)
        return line_idx, lambda col: mapping[min(col, len(mapping) - 1)]

    def _markdown_link(
        self, kind: LinkKind, href: str | None, display: str | None, line: int, start: int, end: int
    ) -> None:
        if not href or href.startswith(("#", "//")) or _SCHEME.match(href):
            return  # a URL or an in-page anchor, not a file in the vault
        path, _, fragment = href.partition("#")
        target = unquote(path)
        fragment = unquote(fragment).strip()
        block = fragment[1:] if fragment.startswith("^") else None
        heading = fragment if fragment and block is None else None
        self.links.append(Link(kind, target, heading, block, display, line, start, end))

    # -- blocks

    def walk(self, tokens: list[Token]) -> None:
        i, n = 0, len(tokens)
        while i < n:
            t = tokens[i]
            typ = t.type
            if typ == "heading_open" and t.map:
                inline = tokens[i + 1]
                self.inline(inline)
                block = self.add_block("heading", t.map[0], t.map[1])
                if block is not None:
                    self.headings.append(
                        Heading(int(t.tag[1]), inline.content.strip(), block.line, block.start,
                                block.end)
                    )
                i += 3
                continue
            if typ == "paragraph_open" and t.map:
                inline = tokens[i + 1]
                self.inline(inline)
                sp = self.span(t.map[0], t.map[1])
                kind: BlockKind = "paragraph"
                if sp is not None and _EMBEDS_ONLY.fullmatch(self.text[sp[0] : sp[1]]):
                    kind = "embed"
                self.add_block(kind, t.map[0], t.map[1])
                i += 3
                continue
            if t.nesting == 1:
                j = _close_index(tokens, i)
                inner = tokens[i : j + 1]
                if typ in ("bullet_list_open", "ordered_list_open"):
                    self.list_items(inner, emit=True)
                elif typ == "blockquote_open" and t.map:
                    first = self.lines.get(self.base + t.map[0])
                    kind = "callout" if _CALLOUT_RE.match(first) else "quote"
                    self.add_block(kind, *t.map, skip=self.not_prose(inner))
                    self.list_items(inner, emit=False)
                    self.inline_all(inner)
                elif typ == "table_open" and t.map:
                    self.add_block("table", *t.map)
                    self.inline_all(inner)
                elif typ == "footnote_block_open":
                    self.walk(_footnote_paragraphs(inner))
                else:
                    self.inline_all(inner)
                i = j + 1
                continue
            if t.map:
                kind2 = _LEAF_KINDS.get(typ)
                if kind2 is not None:
                    self.add_block(kind2, *t.map)
            i += 1

    def not_prose(self, tokens: list[Token]) -> tuple[tuple[int, int], ...]:
        """Offsets of the code, math, tables, HTML and comments nested in a quote/callout."""
        out: list[tuple[int, int]] = []
        for t in tokens:
            if t.map and (t.type in _LEAF_KINDS and t.type != "hr" or t.type == "table_open"):
                sp = self.span(*t.map)
                if sp is not None:
                    out.append((sp[0], sp[1]))
        return tuple(out)

    def inline_all(self, tokens: list[Token]) -> None:
        for k, t in enumerate(tokens):
            if t.type == "inline":
                self.inline(t, in_table=k > 0 and tokens[k - 1].type in ("th_open", "td_open"))

    def list_items(self, tokens: list[Token], emit: bool) -> None:
        depth = -1
        for k, t in enumerate(tokens):
            if t.type == "list_item_close":
                depth -= 1
                continue
            if t.type != "list_item_open":
                continue
            depth += 1
            if t.map is None:
                continue
            a, b = t.map
            close = _close_index(tokens, k)
            stop = close
            for n, u in enumerate(tokens[k + 1 : close], k + 1):
                if u.type in ("bullet_list_open", "ordered_list_open") and u.map:
                    b = u.map[0]
                    stop = n
                    break
            sp = self.span(a, b)
            if sp is None:
                continue
            start, end, line, end_line = sp
            first = self.lines.get(line - 1)
            m = TASK_RE.match(first)
            kind: BlockKind = "task" if m else "list_item"
            if m:
                body = _BLOCK_ID_END.sub("", m.group(2)).strip()
                self.tasks.append(Task(body, m.group(1), line, start, end))
            if emit:
                self.blocks.append(
                    Block(kind, start, end, line, end_line, self.text[start:end], depth=depth,
                          skip=self.not_prose(tokens[k + 1 : stop]))
                )
        if emit:
            self.inline_all(tokens)


_LEAF_KINDS: dict[str, BlockKind] = {
    "fence": "code",
    "code_block": "code",
    "math_block": "math",
    "math_block_label": "math",
    "html_block": "html",
    "comment_block": "comment",
    "hr": "rule",
}


def _close_index(tokens: list[Token], i: int) -> int:
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def _label_end(raw: str, start: int) -> int:
    """Index of the `]` closing a link label that holds nested brackets."""
    depth = 0
    i = start
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _footnote_paragraphs(tokens: list[Token]) -> list[Token]:
    # Footnote bodies are moved to the end by the footnote plugin; read them as top-level blocks.
    out: list[Token] = []
    for t in tokens:
        if t.type.startswith("footnote") or t.type == "footnote_anchor":
            continue
        out.append(t)
    return out


# --------------------------------------------------------------------------- assembly


def _parse(path: str, text: str, bom: bool) -> Note:
    crlf = text.count("\r\n")
    newline = "\r\n" if crlf and crlf * 2 > text.count("\n") else "\n"
    lines = _Lines(text)
    fm: dict[str, Any] = {}
    fm_error: str | None = None
    body_start = 0
    links: list[Link] = []
    split = split_frontmatter(text)
    if split is not None:
        yaml_start, yaml_end, body_start = split
        fm, fm_error = load_frontmatter(text[yaml_start:yaml_end], 2)
        if fm_error is None:
            links.extend(frontmatter_links(text, yaml_start, yaml_end, lines))
    base = text.count("\n", 0, body_start)
    reader = _Reader(text, lines, base)
    if len(text) - body_start > PLAIN_TEXT_LIMIT:
        a, pos = 0, body_start
        for m in _PLAIN_PARAGRAPH.finditer(text, body_start):
            a += text.count("\n", pos, m.start())
            n_lines = m.group(0).count("\n") + (0 if m.group(0).endswith("\n") else 1)
            reader.add_block("paragraph", a, a + n_lines)
            pos = m.start()
    else:
        body = text[body_start:].replace("\r\n", "\n").replace("\r", " ")
        reader.walk(markdown().parse(body))
    heading_text = {h.start: h.text for h in reader.headings}
    blocks, block_ids = _attach_block_ids(
        sorted(reader.blocks, key=lambda b: b.start), lines, heading_text
    )
    links.extend(sorted(reader.links, key=lambda lk: lk.start))
    tags = frontmatter_tags(fm.get("tags", fm.get("tag"))) + reader.tags
    return Note(
        path=path,
        text=text,
        frontmatter=fm,
        frontmatter_error=fm_error,
        body_start=body_start,
        aliases=frontmatter_aliases(fm),
        tags=dedupe_tags(tags),
        headings=tuple(reader.headings),
        block_ids=tuple(block_ids),
        tasks=tuple(sorted(reader.tasks, key=lambda t: t.start)),
        links=tuple(links),
        blocks=tuple(blocks),
        bom=bom,
        newline=newline,
    )


_ID_KINDS = frozenset({"paragraph", "list_item", "task", "callout", "quote", "embed", "heading"})


def _attach_block_ids(
    blocks: list[Block], lines: _Lines, heading_text: dict[int, str]
) -> tuple[list[Block], list[BlockId]]:
    """Set `section` and `block_id`; a paragraph that is only `^id` marks the block before it."""
    out: list[Block] = []
    ids: list[BlockId] = []
    section: str | None = None
    for b in blocks:
        if b.kind == "heading":
            section = heading_text.get(b.start) or None
        only = _BLOCK_ID_ONLY.fullmatch(b.text) if b.kind == "paragraph" else None
        if only is not None and out and out[-1].block_id is None:
            prev = out[-1]
            out[-1] = replace(prev, block_id=only.group(1))
            ids.append(BlockId(only.group(1), b.line, prev.start, prev.end))
            continue
        block_id = None
        if b.kind in _ID_KINDS:
            m = _BLOCK_ID_END.search(lines.get(b.end_line - 1))
            if m is not None:
                block_id = m.group(1)
                ids.append(BlockId(block_id, b.end_line, b.start, b.end))
        out.append(replace(b, section=section, block_id=block_id))
    return out, ids
