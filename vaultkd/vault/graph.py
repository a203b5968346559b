"""The vault as a `networkx.MultiDiGraph`, kept up to date one note at a time.

Nodes are vault-relative POSIX paths (`Projects/Apollo.md`, `attachments/Diagram.png`) with
`kind` ("note" / "attachment" / "unresolved"), `title`, `aliases` and `tags`. A target that
resolves to nothing is the node `unresolved:<target as written>` (kind "unresolved"); it goes
away with its last link. There is one edge per link occurrence, with `kind` (link / embed /
markdown), `heading`, `block`, `display`, `via` (path / basename / alias; None when
unresolved) and `line`. Resolution follows `vaultkd.vault.resolve`.

A note that cannot be read (binary, not UTF-8) is still a node, so links to it resolve; it has
no outgoing links and its one-line error is kept in `VaultGraph.errors`.

`links_only=True` builds the same nodes and the same linked pairs with one attribute-free edge
per pair and link kind: what a distill session needs (neighbourhoods), in less memory. Such a
graph can keep each note's links in a `LinkCache` between runs, so a session opened for one
note re-reads only the notes whose size, mtime or ctime changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import networkx as nx

from vaultkd.vault.errors import NoteReadError, VaultError
from vaultkd.vault.note import Link, Note
from vaultkd.vault.resolve import FileIndex, Resolution, fold, link_key
from vaultkd.vault.scan import VaultFile, scan_vault

UNRESOLVED = "unresolved:"
# A file changed this recently may change again within its timestamp's granularity (1-2 s on
# HFS+ and FAT) without its stamp changing: its links are read, never cached.
RACY_NS = 2_000_000_000
_LINK_KINDS = frozenset({"link", "embed", "markdown"})


class LinkCache(Protocol):
    """Each note's aliases, tags and linked targets between runs (the state db implements it)."""

    def load_links(self) -> dict[str, tuple[str, str]]:
        """path -> (stamp, data) for every cached note."""
        ...

    def save_links(self, rows: Sequence[tuple[str, str, str]], drop: Collection[str]) -> None:
        """Store (path, stamp, data) rows and forget the paths in `drop`."""
        ...


def _stamp(f: VaultFile) -> str:
    return f"{f.size}:{f.mtime_ns}:{f.ctime_ns}"


# What most rows say: a note without aliases, tags or links (every note vaultkd generated).
_NO_LINKS = '{"aliases":[],"tags":[],"links":[]}'


def _encode(note: Note) -> str:
    return json.dumps(
        {"aliases": list(note.aliases), "tags": list(note.tags),
         "links": [[lk.kind, lk.target] for lk in _slim(note.links)]},
        ensure_ascii=False, separators=(",", ":"),
    )


def _decode(path: str, data: str) -> Note | None:
    """The cached note, or None when the row is not what `_encode` writes (a damaged or
    foreign state db is a cache miss, never an error)."""
    if data == _NO_LINKS:
        return Note(path=path, text="")
    try:
        d = json.loads(data)
        aliases = tuple(str(a) for a in d["aliases"])
        tags = tuple(str(t) for t in d["tags"])
        links = tuple(Link(k, str(t), None, None, None, 0, 0, 0) for k, t in d["links"])
    except (ValueError, KeyError, TypeError):
        return None
    if any(lk.kind not in _LINK_KINDS for lk in links):
        return None
    return Note(path=path, text="", aliases=aliases, tags=tags, links=links)

NoteReader = Callable[[Path, str], Note]


def _default_reader(root: Path, rel_path: str) -> Note:
    from vaultkd.vault.quick import read_links

    return read_links(root, rel_path)


_ReadResult = list[tuple[str, Note, str | None]]  # (path, note, one-line error or None)
_PARALLEL_MIN = 500  # below this many notes, starting workers costs more than it saves
_PROGRESS_STEP = 100  # notes read in-process between progress reports


def graph_jobs() -> int:
    """Reader processes for a vault read: one per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def _read_chunk(root: Path, paths: list[str], read: NoteReader) -> _ReadResult:
    out: _ReadResult = []
    for path in paths:
        try:
            # The graph needs links, tags and aliases, not the text: dropping it here keeps a
            # vault's worth of text out of memory and out of the worker → parent pickles.
            out.append((path, dataclasses.replace(read(root, path), text=""), None))
        except NoteReadError as e:
            out.append((path, Note(path=path, text=""), str(e)))
    return out


def _read_chunks(
    root: Path, paths: list[str], read: NoteReader, jobs: int
) -> Iterator[_ReadResult]:
    """Read notes in order, in `jobs` worker processes when that is worth it; chunks come
    back as they are done, so the caller builds while the rest is still being read."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if jobs <= 1 or len(paths) < _PARALLEL_MIN:
        for i in range(0, len(paths), _PROGRESS_STEP):
            yield _read_chunk(root, paths[i : i + _PROGRESS_STEP], read)
        return
    # fork is cheap, but forking a process that runs other threads (the daemon's observer)
    # can deadlock a child; spawn is safe there.
    method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
    size = max(50, len(paths) // (jobs * 8))
    parts = [paths[i : i + size] for i in range(0, len(paths), size)]
    done = 0
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method)) as pool:
            for chunk in pool.map(_read_chunk, [root] * len(parts), parts, [read] * len(parts)):
                yield chunk
                done += 1
    except (OSError, BrokenProcessPool):
        # No worker processes here (a sandbox, no /dev/shm, a killed worker): read the rest
        # in-process.
        for part in parts[done:]:
            yield _read_chunk(root, part, read)


class VaultGraph:
    """The vault's notes and links; `links_only` keeps who links to whom and nothing more
    (one edge per linked pair and kind, no edge attributes) for callers that only walk
    neighbourhoods, such as a distill session: a 10,000-note vault then takes less memory
    in a daemon that holds it for days."""

    def __init__(self, *, links_only: bool = False) -> None:
        self.links_only = links_only
        self.g: nx.MultiDiGraph = nx.MultiDiGraph()
        self.index = FileIndex()
        self.errors: dict[str, str] = {}  # path -> one-line message
        self._links: dict[str, tuple[Link, ...]] = {}  # source note -> its links
        self._by_key: dict[str, set[str]] = {}  # link_key / alias key -> sources that use it

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        root: Path,
        reader: NoteReader | None = None,
        progress: Callable[[int, int], None] | None = None,
        jobs: int = 1,
        *,
        links_only: bool = False,
        cache: LinkCache | None = None,
    ) -> VaultGraph:
        """Scan and read a vault. `reader(root, rel_path) -> Note` defaults to the fast link
        reader (`quick.read_links`); pass `scan.read_note` for fully parsed notes.

        With `links_only`, `cache` supplies the links of notes whose stamp (size, mtime,
        ctime) is unchanged and keeps those read now; it must hold what `reader` returns.

        `jobs` > 1 reads notes in that many worker processes (reading is most of the work and
        is pure Python, so threads would not help); the graph itself is built here.
        """
        # A vault's graph is about a million long-lived objects, allocated in one go: the
        # cyclic collector ran full passes over them as they grew, a third of the build
        # (the distilled 10,000-note synthetic vault, 55,000 notes: 3.2-3.8 s, 2.1 s with
        # it paused). Nothing built here forms a cycle; reference counting frees the rest.
        with _gc_paused():
            return cls._build(root, reader, progress, jobs, links_only, cache)

    @classmethod
    def _build(
        cls,
        root: Path,
        reader: NoteReader | None,
        progress: Callable[[int, int], None] | None,
        jobs: int,
        links_only: bool,
        cache: LinkCache | None,
    ) -> VaultGraph:
        root = Path(root)
        scanned_ns = time.time_ns()
        files = scan_vault(root)
        read = reader or _default_reader
        attachments = [f.path for f in files if f.kind == "attachment"]
        notes = [f for f in files if f.kind != "attachment"]
        graph = cls(links_only=links_only)
        for path in attachments:
            graph._add_node(path, "attachment")
        if not links_only:
            cache = None  # rows hold slim links only: a full graph always reads
        stored = cache.load_links() if cache is not None else {}
        known: dict[str, tuple[Note, str | None]] = {}
        for f in notes:
            row = stored.get(f.path)
            if row is not None and row[0] == _stamp(f):
                note = _decode(f.path, row[1])
                if note is not None:
                    known[f.path] = (note, None)
        drop = set(stored) - {f.path for f in notes}
        del stored  # a lived-in vault's worth of rows; not needed past this point
        done = len(attachments) + len(known)
        todo = [f.path for f in notes if f.path not in known]
        for chunk in _read_chunks(root, todo, read, jobs):
            for path, note, error in chunk:
                # Keep only what the graph takes, slimmed as it would: a vault's worth of full
                # notes held to the end of the build left the daemon 20 MB larger once caught
                # up (250.8 vs 231.6 MB, bench/daemon_bench.py at 10,000 notes).
                links = _slim(note.links) if links_only else note.links
                kept = Note(path=note.path, text="", aliases=note.aliases, tags=note.tags,
                            links=links)
                known[path] = (kept, error)
            done += len(chunk)
            if progress is not None:
                progress(done, len(files))
        for f in notes:  # in path order, whichever were cached
            note, error = known[f.path]
            if error is not None:
                graph.errors[f.path] = error
            graph._add_note_node(note)
            graph._store_links(note.path, note.links, slim=links_only)  # slimmed above
        graph._connect_all()
        if cache is not None:
            stamps = {f.path: f for f in notes}
            rows = [
                (path, _stamp(stamps[path]), _encode(known[path][0]))
                for path in todo
                if known[path][1] is None
                and max(stamps[path].mtime_ns, stamps[path].ctime_ns) < scanned_ns - RACY_NS
            ]
            if rows or drop:
                cache.save_links(rows, drop)
        return graph

    @classmethod
    def from_notes(cls, notes: Iterable[Note], attachments: Iterable[str] = ()) -> VaultGraph:
        graph = cls()
        notes = list({n.path: n for n in notes}.values())  # a path read twice counts once
        for path in attachments:
            graph._add_node(path, "attachment")
        for note in notes:
            graph._add_note_node(note)
        for note in notes:
            graph._store_links(note.path, note.links)
        graph._connect_all()
        return graph

    # ------------------------------------------------------------------ incremental

    def update_note(self, note: Note) -> None:
        """Add or replace one note; only the edges that can change are recomputed."""
        path = note.path
        is_new = path not in self.index
        old_aliases = self.index.aliases.get(path, ())
        self.errors.pop(path, None)
        self._add_note_node(note)
        self._store_links(path, note.links)
        self._connect(path)
        if is_new or set(map(fold, old_aliases)) != set(map(fold, note.aliases)):
            keys = {link_key(path)} | {fold(a) for a in (*old_aliases, *note.aliases)}
            self._reconnect_keys(keys, skip=path)

    def add_attachment(self, path: str) -> None:
        if path not in self.index:
            self._add_node(path, "attachment")
            self._reconnect_keys({link_key(path)})

    def remove_note(self, path: str) -> None:
        """Remove a note (or attachment); links to it re-resolve, most often to unresolved."""
        if path not in self.g or self.g.nodes[path].get("kind") == "unresolved":
            return
        sources = {u for u, _ in self.g.in_edges(path)} - {path}
        aliases = self.index.aliases.get(path, ())
        self._disconnect(path)
        self._store_links(path, ())
        self.index.remove(path)
        self.g.remove_node(path)
        self.errors.pop(path, None)
        for src in sources:
            self._connect(src)
        self._reconnect_keys({link_key(path)} | {fold(a) for a in aliases})

    def resolve(self, target: str, source_path: str, markdown: bool = False) -> Resolution | None:
        return self.index.resolve(target, source_path, markdown)

    # ------------------------------------------------------------------ queries

    def notes(self) -> list[str]:
        return sorted(n for n, k in self.g.nodes(data="kind") if k == "note")

    def attachments(self) -> list[str]:
        return sorted(n for n, k in self.g.nodes(data="kind") if k == "attachment")

    def orphans(self) -> list[str]:
        """Notes with no link in or out (links to themselves do not count)."""
        out = []
        for n, kind in self.g.nodes(data="kind"):
            if kind != "note":
                continue
            if any(v != n for v in self.g.successors(n)) or any(
                u != n for u in self.g.predecessors(n)
            ):
                continue
            out.append(n)
        return sorted(out)

    def unresolved(self) -> dict[str, list[str]]:
        """Unresolved target (as written) -> the notes that link to it."""
        out: dict[str, list[str]] = {}
        for n, kind in self.g.nodes(data="kind"):
            if kind == "unresolved":
                out[n[len(UNRESOLVED) :]] = sorted({u for u, _ in self.g.in_edges(n)})
        return dict(sorted(out.items()))

    def hubs(self, n: int = 5) -> list[tuple[str, int]]:
        """Notes and attachments with the most incoming links from other notes."""
        counts: Counter[str] = Counter()
        for u, v in self.g.edges():
            if u != v and self.g.nodes[v].get("kind") != "unresolved":
                counts[v] += 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def stats(self) -> dict[str, Any]:
        kinds = Counter(k for _, k in self.g.nodes(data="kind"))
        edges = Counter(k for _, _, k in self.g.edges(data="kind"))
        unresolved_links = sum(
            1 for _, v in self.g.edges() if self.g.nodes[v].get("kind") == "unresolved"
        )
        return {
            "notes": kinds.get("note", 0),
            "attachments": kinds.get("attachment", 0),
            "links": edges.get("link", 0) + edges.get("markdown", 0),
            "embeds": edges.get("embed", 0),
            "unresolved_targets": kinds.get("unresolved", 0),
            "unresolved_links": unresolved_links,
            "orphans": len(self.orphans()),
            "unreadable": len(self.errors),
            "top_hubs": [{"path": p, "backlinks": c} for p, c in self.hubs()],
        }

    # ------------------------------------------------------------------ export

    def export(self, path: Path | str) -> None:
        """Write `.graphml`, `.gexf` or `.json` (node-link with keys `nodes` and `edges`)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".json":
            data = nx.node_link_data(self.g, edges="edges")
            path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")
        elif suffix in (".graphml", ".gexf"):
            flat = _flat_copy(self.g)
            if suffix == ".graphml":
                nx.write_graphml(flat, path)
            else:
                nx.write_gexf(flat, path)
        else:
            raise VaultError(f"{path}: unknown export format; use .graphml, .gexf or .json")

    # ------------------------------------------------------------------ internals

    def _add_node(self, path: str, kind: str) -> None:
        title = path.rsplit("/", 1)[-1]
        self.index.add(path)
        self.g.add_node(path, kind=kind, title=title, aliases=[], tags=[])

    def _add_note_node(self, note: Note) -> None:
        if note.path not in self.index:
            self.index.add(note.path, note.aliases)
        else:
            self.index.set_aliases(note.path, note.aliases)
        self.g.add_node(
            note.path, kind="note", title=note.title, aliases=list(note.aliases),
            tags=list(note.tags),
        )

    def _store_links(self, path: str, links: tuple[Link, ...], *, slim: bool = False) -> None:
        if self.links_only and not slim:  # `slim`: already one attribute-free link per pair
            links = _slim(links)
        for target in {lk.target for lk in self._links.get(path, ())}:
            for key in _keys_of(target):
                users = self._by_key.get(key)
                if users is not None:
                    users.discard(path)
        if links:
            self._links[path] = links
            by_key = self._by_key
            for target in {lk.target for lk in links}:
                for key in _keys_of(target):
                    users = by_key.get(key)
                    if users is None:
                        by_key[key] = {path}
                    else:
                        users.add(path)
        else:
            self._links.pop(path, None)

    def _disconnect(self, path: str) -> None:
        targets = {v for _, v in self.g.out_edges(path)}
        self.g.remove_edges_from(list(self.g.out_edges(path, keys=True)))
        for v in targets:
            if v.startswith(UNRESOLVED) and self.g.in_degree(v) == 0:
                self.g.remove_node(v)

    def _connect(self, path: str) -> None:
        self._disconnect(path)
        self.g.add_edges_from(self._edges_of(path))

    def _connect_all(self) -> None:
        """Edges of every stored note into a graph that has none yet, in one insertion (with
        keys numbered here, as networkx would, which spares it a lookup per edge)."""
        keys: Counter[tuple[str, str]] = Counter()
        edges = []
        for path in self._links:
            for u, v, attrs in self._edges_of(path):
                edges.append((u, v, keys[u, v], attrs))
                keys[u, v] += 1
        self.g.add_edges_from(edges)

    def _edges_of(self, path: str) -> list[tuple[str, str, dict[str, Any]]]:
        g = self.g
        resolve = self.index.resolve
        edges = []
        for lk in self._links.get(path, ()):
            res = resolve(lk.target, path, lk.kind == "markdown")
            if res is None:
                target = UNRESOLVED + lk.target
                if target not in g:
                    g.add_node(target, kind="unresolved", title=lk.target, aliases=[], tags=[])
                via = None
            else:
                target, via = res.path, res.via
            if self.links_only:
                edges.append((path, target, {}))
                continue
            edges.append((path, target, {
                "kind": lk.kind, "heading": lk.heading, "block": lk.block,
                "display": lk.display, "via": via, "line": lk.line,
            }))
        return edges

    def _reconnect_keys(self, keys: Iterable[str], skip: str | None = None) -> None:
        sources: set[str] = set()
        for key in keys:
            sources |= self._by_key.get(key, set())
        for src in sorted(sources - {skip}):
            self._connect(src)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _slim(links: tuple[Link, ...]) -> tuple[Link, ...]:
    """One link per (kind, target), without what only the full graph's edges carry."""
    seen: dict[tuple[str, str], Link] = {}
    for lk in links:
        if (lk.kind, lk.target) not in seen:
            seen[lk.kind, lk.target] = Link(lk.kind, lk.target, None, None, None, 0, 0, 0)
    return tuple(seen.values())


def _keys_of(target: str) -> tuple[str, ...]:
    # Names are looked up by the last segment without .md, aliases by the whole target.
    a, b = link_key(target), fold(target.strip())
    return (a,) if a == b else (a, b)


def _flat_copy(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """GraphML and GEXF take only scalars: None -> "", lists -> "|"-joined text."""
    def flat(attrs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in attrs.items():
            if v is None:
                out[k] = ""
            elif isinstance(v, list | tuple):
                out[k] = "|".join(map(str, v))
            elif isinstance(v, bool | int | float | str):
                out[k] = v
            else:
                out[k] = str(v)
        return out

    h = nx.MultiDiGraph()
    h.add_nodes_from((n, flat(d)) for n, d in g.nodes(data=True))
    h.add_edges_from((u, v, k, flat(d)) for u, v, k, d in g.edges(keys=True, data=True))
    return h
