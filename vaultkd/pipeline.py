"""read -> parse -> predict -> distill -> write, one `Session` per vault.

The CLI (`vaultkd distill`) and the daemon (`vaultkd watch`) both drive a `Session`: it loads
the config, the state database, the vault's note list and the model once, then distills any
number of notes. A run has two passes so that connections see the whole batch:

1. parse every note and predict its sentences (batched across notes, cached in the state db
   by model and source hash, so an unchanged note never runs the model twice);
2. distill, render and write each note (the writer decides what may be written).

The caller takes the vault's write lock around `distill` (see `vaultkd.write.lock`).
Notes too short to distil get no files; the run says so. Generated notes are never sources.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from vaultkd.config import CONFIG_NAME, STATE_DIR, Config
from vaultkd.distill.connections import Neighbours, VectorIndex, find_connections, note_vector
from vaultkd.distill.core import distill_note
from vaultkd.distill.render import (
    distilled_path,
    render_atomic,
    render_distillation,
    render_inline,
    to_report,
)
from vaultkd.distill.salience import ContextWeights, note_in_context
from vaultkd.distill.segment import sentences_of as note_sentences
from vaultkd.distill.titles import VaultTitleKeys, title_key
from vaultkd.distill.types import Connection, Distillation, Rendered, Sentence
from vaultkd.model.predictor import Predictions, Predictor
from vaultkd.roles import ROLES
from vaultkd.vault.errors import NoteReadError
from vaultkd.vault.graph import VaultGraph, graph_jobs
from vaultkd.vault.note import Note
from vaultkd.vault.parse import parse_note
from vaultkd.vault.quick import read_links
from vaultkd.write.atomic import ChangedOnDisk, read_bytes, remove_temp_files
from vaultkd.write.genfile import (
    GENERATED_HEAD,
    full_hash,
    inspect,
    looks_generated,
    short_hash,
    source_link,
)
from vaultkd.write.paths import UnsafePath, vault_path
from vaultkd.write.source_edit import append_block_ids, note_bytes, round_trips
from vaultkd.write.state import NoteState, StateDB
from vaultkd.write.writer import OutputFile, VaultWriter, WriteReport

log = logging.getLogger(__name__)

STATE_DB = "state.db"
# Sentences per model call at most: a chunk's, as a rule (its threads then sort more sentences
# by length, and tokenize in fewer calls): 3,000 notes, pass 1 18.0 / 19.8 s, 32.0 / 34.8
# CPU-s, against 20.5 / 20.2 s, 35.5 / 35.3 CPU-s with calls of 4,096 (alternating).
BATCH_SENTENCES = 16384
BATCH_ROWS = 128  # below twice this, one model thread reads them all
CHUNK_NOTES = 256  # notes parsed and predicted per step of pass 1


class VaultNotFound(Exception):
    """No vault above the given path; the message says to pass --vault."""


def find_vault(start: Path) -> Path:
    """The nearest folder at or above `start` holding `.obsidian/` or `.vaultkd.toml`."""
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / ".obsidian").is_dir() or (folder / CONFIG_NAME).is_file():
            return folder
    raise VaultNotFound(
        f"{start}: not inside a vault (no folder above it has .obsidian/ or {CONFIG_NAME}); "
        f"pass --vault DIR"
    )


@dataclass(frozen=True)
class DistillOptions:
    inline: bool = False
    block_refs: bool = False
    force: bool = False
    dry_run: bool = False


STATUSES = ("written", "unchanged", "too_short", "kept", "retry", "error")


@dataclass
class NoteResult:
    note: str
    status: str  # one of STATUSES
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    message: str = ""  # one line, fit for an Obsidian notification
    report: dict[str, Any] | None = None  # the per-note --json object (when asked for)
    sentences: int = 0  # sentences of prose the model read


_PACKED = Note(path="", text="")  # stands in for a note while it is packed or done


@dataclass
class _Prepared:
    rel: str
    data: bytes
    note: Note
    source_hash: str
    sentences: list[Sentence]
    preds: Predictions | None = None  # filled by the predict pass
    cached: bool = False
    packed: bytes | None = None  # the parsed note and its sentences between the passes

    def pack(self, *, keep_predictions: bool) -> None:
        # A parsed note takes ~30 KB of Python objects; packed ~3 KB, and unpacking costs a
        # fifth of parsing again. The bytes are re-read (and their hash checked) in pass 2.
        self.packed = zlib.compress(pickle.dumps((self.note, self.sentences), protocol=5), 1)
        self.note, self.sentences, self.data = _PACKED, [], b""
        if not keep_predictions:
            self.preds = None  # they are in the state db

    def unpack(self, data: bytes, preds: Predictions) -> None:
        assert self.packed is not None
        self.note, self.sentences = pickle.loads(zlib.decompress(self.packed))
        self.data, self.preds = data, preds

    def release(self) -> None:
        self.note, self.sentences, self.data, self.preds = _PACKED, [], b"", None


@dataclass
class _Computed:
    """What pass 2 works out for a note before writing (`Session._compute`)."""

    files: list[OutputFile]
    new_data: bytes | None  # the source's new bytes (--inline, --block-refs); None: as it is
    edit_problem: str
    warn: str
    too_short: bool
    reason: str
    counts: str  # "3 claims, 1 questions, …" for the one-line message
    report: dict[str, Any] | None
    sentences: int
    titles: dict[str, tuple[int, bool]]  # title keys asked of the vault: (own, taken)
    preds: Predictions | None  # with new_data: cached again under the edited bytes


# What a distillation writes for the same predictions: bump it when that changes (the form
# checks of `distill/taskform.py`, rendering, titles), so that after an upgrade every note
# is written again — from its cached predictions, without the model. 1: up to 2026-12-02;
# 2: escapes and autolinks kept in copies; instructions, changes made, regrets and doubts no
# tasks; options no decisions. 3 (2026-12-04): what a release did (change-log lines, changes
# under a heading of changes) no decisions; "before" at a clause's end no deadline.
# 4 (2026-12-04, later): a `<br>` between two words reads as a space (a note whose sentences
# change in number is read by the model again; one whose count stays keeps its predictions).
OUTPUT_VERSION = 4


def _mode(inline: bool, block_refs: bool, new_tasks: bool = True) -> str:
    # Settings that change what is written beyond the distillation's own text, and the output
    # version: a note distilled under another mode is due again.
    flags = (("inline", inline), ("block_refs", block_refs), ("plain_tasks", not new_tasks))
    return "+".join([m for m, on in flags if on] + [f"out{OUTPUT_VERSION}"])


def _empty_predictions(dim: int) -> Predictions:
    return Predictions(
        role_probs=np.zeros((0, len(ROLES)), np.float32),
        salience=np.zeros(0, np.float32),
        embeddings=np.zeros((0, dim), np.float32),
    )


def note_embedding(preds: Predictions, dim: int) -> np.ndarray:
    """A note's vector for connections (see `distill.connections.note_vector`)."""
    if len(preds) == 0:
        return np.zeros(dim, np.float32)
    return note_vector(preds.embeddings, preds.salience)


class Session:
    """One vault, its state and its model, loaded once; see the module docstring."""

    def __init__(
        self,
        root: Path,
        predictor: Predictor,
        config: Config,
        db: StateDB,
        graph: VaultGraph | Callable[[], VaultGraph],
    ) -> None:
        self.root = root
        self.predictor = predictor
        # Models without fitted weights (and test predictors) rank by their own salience.
        manifest = getattr(predictor, "manifest", {})
        self._context = ContextWeights.from_manifest(manifest)
        self._paper_context = ContextWeights.from_manifest(manifest, paper=True)
        self.config = config
        self.db = db
        # The graph may come as a function that builds it: it is then built when a note needs
        # it, so `vaultkd distill NOTE` on an unchanged note (Obsidian runs it on every save
        # or hotkey) says so without reading the vault's links.
        self._graph: VaultGraph | None = graph if isinstance(graph, VaultGraph) else None
        self._build_graph = None if isinstance(graph, VaultGraph) else graph
        self._title_index: _TitleIndex | None = None
        self._vectors: dict[str, np.ndarray] | None = None  # loaded when first needed, too
        # The last `distill` call's passes: wall and CPU seconds of this process and of its
        # pass-2 workers (`bench/distill_bench.py` prints them).
        self.timings: dict[str, float] = {}

    @property
    def graph(self) -> VaultGraph:
        if self._graph is None:
            assert self._build_graph is not None
            self._graph = self._build_graph()
            self._build_graph = None
        return self._graph

    @property
    def _index(self) -> dict[str, np.ndarray]:
        """Each distilled note's vector, from the state db (a vault's worth: 10,000 rows)."""
        if self._vectors is None:
            # Vectors of notes deleted while no daemon was watching are left out; later
            # deletions reach `source_deleted`.
            self._vectors = {
                k: v for k, v in self.db.note_embeddings(self.predictor.version).items()
                if (self.root / k).is_file()
            }
        return self._vectors

    @property
    def _titles(self) -> _TitleIndex:
        if self._title_index is None:
            # The graph was built from a scan of the vault: its notes are the vault's.
            self._title_index = _TitleIndex(_stem(p) for p in self.graph.notes())
        return self._title_index

    @_titles.setter
    def _titles(self, index: _TitleIndex) -> None:
        self._title_index = index

    @classmethod
    def open(
        cls,
        vault_root: Path,
        *,
        predictor: Predictor | None = None,
        config: Config | None = None,
    ) -> Session:
        root = Path(vault_root).resolve()
        if not root.is_dir():
            raise VaultNotFound(f"{vault_root}: not a folder; pass the path of your vault")
        config = config if config is not None else Config.load(root)
        db = StateDB(root / STATE_DIR / STATE_DB)
        try:
            # A run killed mid-write leaves at most temporary siblings; sweep them first.
            removed = remove_temp_files(root)
            if removed:
                log.info("removed %d temporary file(s) left by an interrupted run", removed)
            if predictor is None:
                from vaultkd.model.runtime import load_predictor

                predictor = load_predictor()
        except BaseException:
            db.close()
            raise

        def graph() -> VaultGraph:
            return VaultGraph.build(
                root, reader=source_links, jobs=graph_jobs(), links_only=True, cache=db
            )

        return cls(root, predictor, config, db, graph)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- which notes ----------------------------------------------------------------------

    def is_generated(self, rel_path: str) -> bool:
        """A note vaultkd wrote (tracked in the state db, or carrying `vaultkd:` frontmatter)."""
        if self.db.output(rel_path) is not None:
            return True
        try:
            head = read_bytes(vault_path(self.root, rel_path))
        except UnsafePath:
            return False
        return head is not None and head.startswith(GENERATED_HEAD)

    def sources(self) -> list[str]:
        """Every note of the vault that vaultkd may distil (generated notes excluded)."""
        return _sources(self.root, self.db)

    def pending(self, options: DistillOptions | None = None) -> list[str]:
        """Sources whose bytes, model version or mode differ from the last distillation.

        The mode is the one `distill(…, options)` would use (the config's, plus what
        `options` turns on): `distill --all --inline` after a plain run has every note to do."""
        inline = self.config.inline or (options is not None and options.inline)
        block_refs = self.config.block_refs or (options is not None and options.block_refs)
        want_mode = _mode(inline, block_refs, self.config.new_tasks)
        out = []
        for rel in self.sources():
            state = self.db.note(rel)
            if state is None or state.model != self.predictor.version or state.mode != want_mode:
                out.append(rel)
                continue
            data = read_bytes(self.root / rel)
            if data is not None and short_hash(data) != state.source_hash:
                out.append(rel)
            elif _unwritten(self.root, self.db, self.config, rel, state):
                out.append(rel)
        return out

    def is_own_write(self, rel_path: str) -> bool:
        return VaultWriter(self.root, self.db).is_own_write(rel_path)

    # -- distill --------------------------------------------------------------------------

    def distill(
        self,
        rel_paths: Sequence[str],
        options: DistillOptions = DistillOptions(),  # noqa: B008 - frozen, never mutated
        progress: Callable[[int, int], None] | None = None,
        jobs: int = 1,
        *,
        reports: bool = True,
    ) -> list[NoteResult]:
        """Distill the given vault-relative notes; one result per note, in the given order.

        `progress(done, total)` counts both passes (total = 2 × notes). `reports=False` leaves
        out the per-note --json objects (a vault's worth of them is large).
        """
        # numpy's BLAS is used for matrix-vector products only (connections), too small to
        # gain from threads; its idle threads spin, taking the core that parsing, the model
        # or a pass-2 worker needs (3,000 notes with a pass-2 worker: 72 s -> 42 s).
        with threadpool_limits(limits=1, user_api="blas"):
            if not options.dry_run:
                return self._distill(rel_paths, options, progress, jobs, reports)
            # A dry run hands out titles as a real run would (a second note with the same
            # claim gets "… 2"), in a copy of the title index that is dropped afterwards.
            titles = self._titles
            self._titles = titles.copy()
            try:
                return self._distill(rel_paths, options, progress, jobs, reports)
            finally:
                self._titles = titles

    def _distill(
        self,
        rel_paths: Sequence[str],
        options: DistillOptions,
        progress: Callable[[int, int], None] | None,
        jobs: int,
        reports: bool,
    ) -> list[NoteResult]:
        started = _clock()
        inline = options.inline or self.config.inline
        block_refs = options.block_refs or self.config.block_refs
        mode = _mode(inline, block_refs, self.config.new_tasks)
        total = 2 * len(rel_paths)
        done = 0
        results: dict[int, NoteResult] = {}
        prepared: list[tuple[int, _Prepared]] = []
        # A vault-sized run keeps each parsed note packed between the passes and its
        # predictions in the state db, so memory does not grow with the vault (the daemon's
        # catch-up runs here too); a small run keeps everything as it is.
        pack = len(rel_paths) > CHUNK_NOTES
        numbered = list(enumerate(rel_paths))
        # Pass 1: predictions for everything that needs them, from the cache or the model.
        # In a vault-sized run the model reads one chunk (onnxruntime releases the GIL) while
        # the next is parsed: with model batches of 128 instead of 64 as well, 43-45 s instead
        # of 48-52 s for 3,000 notes, for ~50 MB more peak RSS (bench/distill_bench.py); a
        # small run (the daemon's saves) stays on this thread. Only the model call leaves this
        # thread (SQLite and the graph stay here).
        inflight: tuple[list[_Prepared], int, Future[int]] | None = None
        model = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vaultkd-model")

        def settle(chunk: list[_Prepared], cached: int, running: Future[int]) -> None:
            nonlocal done
            done += cached + running.result()
            self._keep_predictions(chunk, options.dry_run)
            for p in chunk:
                # The note's links may have changed since the graph was built (daemon, edits).
                self.graph.update_note(p.note)
                if pack:
                    p.pack(keep_predictions=options.dry_run)
            if progress:
                progress(done, total)

        try:
            for start in range(0, len(numbered), CHUNK_NOTES):
                chunk: list[tuple[int, _Prepared]] = []
                for i, raw in numbered[start : start + CHUNK_NOTES]:
                    rel = raw.replace("\\", "/").removeprefix("./")
                    item = self._prepare(rel, options, mode)
                    if isinstance(item, NoteResult):
                        results[i] = item
                        done += 2
                        if progress:
                            progress(done, total)
                    else:
                        chunk.append((i, item))
                notes = [p for _, p in chunk]
                if notes and self._graph is None:
                    # Built before the model's thread starts: the graph's reader processes
                    # are then forked, not spawned (a process with threads must spawn them).
                    self.graph  # noqa: B018 - built for its side effect
                cached, batches = self._plan(notes)
                if pack:
                    running = model.submit(self._run_batches, batches, jobs)
                else:
                    running = Future()
                    running.set_result(self._run_batches(batches, jobs))
                if inflight is not None:
                    settle(*inflight)
                inflight = (notes, cached, running)
                prepared += chunk
            if inflight is not None:
                settle(*inflight)
        finally:
            model.shutdown()
        # Pass 2: distill, render, write. The vector index is stacked once for the batch.
        between = _clock()
        index = VectorIndex(self._index) if prepared else VectorIndex({})
        memo: Neighbours = {}  # the link graph does not change during pass 2
        writer = VaultWriter(self.root, self.db, dry_run=options.dry_run)
        far = self._computed_elsewhere(
            [p for _, p in prepared], (inline, block_refs, index, memo, reports)
        )
        for (i, p), c in zip(prepared, far, strict=True):
            try:
                if c == "retry":
                    results[i] = self._retry(p)
                elif isinstance(c, _Computed) and self._titles.agrees(c.titles):
                    # Worked out in a worker; the titles it chose are still free. Re-read just
                    # before writing: Obsidian may have saved the note since it was read.
                    data = read_bytes(vault_path(self.root, p.rel))
                    if data is None or short_hash(data) != p.source_hash:
                        results[i] = self._retry(p, c.report)
                    else:
                        results[i] = self._commit(p, c, data, writer, mode)
                elif p.packed is not None and not self._unpack(p):
                    results[i] = self._retry(p)
                else:
                    results[i] = self._finish(
                        p, writer, inline, block_refs, mode, index, memo, reports
                    )
            except (OSError, UnsafePath) as exc:
                results[i] = NoteResult(p.rel, "error", message=f"{p.rel}: {exc}")
            except Exception as exc:  # noqa: BLE001 - one bad note must not stop a vault run
                log.exception("distilling %s failed", p.rel)
                results[i] = NoteResult(
                    p.rel, "error",
                    message=f"{p.rel}: internal error ({type(exc).__name__}: {exc}); the note "
                    f"is untouched or fully written; please report this with the note",
                )
            finally:
                p.release()
            done += 1
            if progress:
                progress(done, total)
        ended = _clock()
        self.timings = {
            f"pass{n}_{what}": round(b[k] - a[k], 3)
            for n, (a, b) in ((1, (started, between)), (2, (between, ended)))
            for k, what in enumerate(("s", "cpu_s", "workers_cpu_s"))
        }
        return [results[i] for i in range(len(rel_paths))]

    def predict(self, rel_paths: Sequence[str]) -> int:
        """Pass 1 alone: parse and predict notes, caching their predictions and vectors in
        the state db; no vault file is written. A caller that then distills the notes in
        several batches (the daemon's catch-up) gives every batch the whole vault's vectors,
        so its connections are what one `distill` call would find. Returns how many notes
        the model read (the others were cached, unchanged, or cannot be distilled)."""
        mode = _mode(self.config.inline, self.config.block_refs, self.config.new_tasks)
        read = 0
        for start in range(0, len(rel_paths), CHUNK_NOTES):
            chunk = []
            for rel in rel_paths[start : start + CHUNK_NOTES]:
                # As a dry run: a note that cannot be read is recorded by `distill`, not here
                # (recorded here, `distill` would then find it "unchanged" and say nothing).
                item = self._prepare(rel, DistillOptions(dry_run=True), mode)
                if isinstance(item, _Prepared):
                    chunk.append(item)
            _, batches = self._plan(chunk)
            self._run_batches(batches, 1)
            self._keep_predictions(chunk, dry_run=False)
            for p in chunk:
                self.graph.update_note(p.note)
                read += not p.cached
                p.release()
        return read

    def _keep_predictions(self, prepared: Sequence[_Prepared], dry_run: bool) -> None:
        """Note vectors into the index; new predictions into the state db (not on dry runs)."""
        if dry_run:
            for p in prepared:
                assert p.preds is not None
                self._index[p.rel] = note_embedding(p.preds, self.predictor.dim)
            return
        with self.db.transaction():
            for p in prepared:
                assert p.preds is not None
                emb = note_embedding(p.preds, self.predictor.dim)
                self._index[p.rel] = emb
                if not p.cached:
                    self.db.set_prediction(
                        p.rel, self.predictor.version, p.source_hash, emb,
                        (p.preds.role_probs, p.preds.salience, p.preds.embeddings),
                    )

    def _unpack(self, p: _Prepared) -> bool:
        """Bring a packed note back for pass 2; False when the note changed since pass 1."""
        data = read_bytes(self.root / p.rel)
        if data is None or short_hash(data) != p.source_hash:
            return False
        preds = p.preds
        if preds is None:
            cached = self.db.prediction(p.rel, self.predictor.version, p.source_hash)
            if cached is None:
                return False  # another process replaced them; the note is distilled again
            preds = Predictions(*cached)
        p.unpack(data, preds)
        return len(preds) == len(p.sentences)

    def _prepare(self, rel: str, options: DistillOptions, mode: str) -> _Prepared | NoteResult:
        try:
            path = vault_path(self.root, rel)
        except UnsafePath as exc:
            return NoteResult(rel, "error", message=f"{exc}; give a note inside the vault")
        if not rel.lower().endswith(".md"):
            return NoteResult(rel, "error", message=f"{rel}: not a Markdown note (.md)")
        data = read_bytes(path)
        if data is None:
            return NoteResult(rel, "error", message=f"{rel}: no such note in {self.root}")
        if inspect(data) is not None or self.db.output(rel) is not None:
            source = inspect(data)
            of = f" (from {source.source})" if source and source.source else ""
            return NoteResult(
                rel, "error",
                message=f"{rel}: a note vaultkd generated{of}; distil its source instead",
            )
        limit = self.config.max_note_mb
        if len(data) > limit * 1_000_000:
            # Not recorded as an error state: raising the limit distils it on the next run.
            return NoteResult(
                rel, "error",
                message=f"{rel}: {len(data) / 1e6:.1f} MB, larger than max_note_mb = {limit:g} "
                f"({CONFIG_NAME}); split the note, or raise the limit to distil it",
            )
        source_hash = short_hash(data)
        state = self.db.note(rel)
        if (
            not options.force
            and state is not None
            and state.source_hash == source_hash
            and state.model == self.predictor.version
            and state.mode == mode
            and not _unwritten(self.root, self.db, self.config, rel, state)
        ):
            return NoteResult(rel, "unchanged", message=f"{rel}: unchanged, nothing to do")
        try:
            note = parse_note(rel, data)
        except NoteReadError as exc:
            if not options.dry_run:
                with self.db.transaction():
                    self.db.set_note(
                        NoteState(rel, source_hash, self.predictor.version, "error", str(exc),
                                  None, mode)
                    )
            return NoteResult(rel, "error", message=str(exc))
        return _Prepared(rel, data, note, source_hash, note_sentences(note))

    def _plan(self, prepared: Sequence[_Prepared]) -> tuple[int, list[list[_Prepared]]]:
        """Fill `preds` from the cache where it can; (how many notes that was, the model
        batches for the rest)."""
        todo: list[_Prepared] = []
        for p in prepared:
            cached = self.db.prediction(p.rel, self.predictor.version, p.source_hash)
            if cached is not None and cached[0].shape[0] == len(p.sentences):
                p.preds = Predictions(*cached)
                p.cached = True
            elif not p.sentences:
                p.preds = _empty_predictions(self.predictor.dim)
            else:
                todo.append(p)
        batches: list[list[_Prepared]] = []
        batch: list[_Prepared] = []
        size = 0
        for p in todo:
            batch.append(p)
            size += len(p.sentences)
            if size >= BATCH_SENTENCES:
                batches.append(batch)
                batch, size = [], 0
        if batch:
            batches.append(batch)
        return len(prepared) - len(todo), batches

    def _run_batches(self, batches: Sequence[list[_Prepared]], jobs: int) -> int:
        """Fill `preds` from the model; touches only the predictor and these notes (it runs
        beside the parsing of the next chunk). Returns how many notes it did."""
        pool = ThreadPoolExecutor(jobs, thread_name_prefix="vaultkd-model") if jobs > 1 else None

        def run(group: list[_Prepared]) -> int:
            # Notes share model calls: the shipped int8 model has fixed activation scales, so a
            # sentence's numbers do not depend on its batch (a run resumed after a kill writes
            # what an uninterrupted run writes), and a sentence that occurs in several notes
            # (templates, repeated lines) is read once.
            texts = [s.text for p in group for s in p.sentences]
            unique = list(dict.fromkeys(texts))
            preds = self._predict(unique, pool, jobs)
            where = {t: i for i, t in enumerate(unique)}
            start = 0
            for p in group:
                rows = [where[t] for t in texts[start : start + len(p.sentences)]]
                start += len(p.sentences)
                p.preds = Predictions(
                    preds.role_probs[rows], preds.salience[rows], preds.embeddings[rows]
                )
            return len(group)

        try:
            return sum(run(group) for group in batches)
        finally:
            if pool is not None:
                pool.shutdown()

    def _predict(
        self, texts: list[str], pool: ThreadPoolExecutor | None, jobs: int
    ) -> Predictions:
        """The model on `texts`, in `jobs` threads that share the work evenly.

        Each thread reads every `jobs`-th text in order of length, so all get the same mix of
        long and short ones and finish together, and each still sorts its own by length (little
        padding). Whole batches per thread instead (the model's batches of 4,096 sentences, two
        threads) left one thread reading a chunk's last batch alone while the parser waited
        for it: 3,000 synthetic notes, pass 1 in 19.8 / 19.1 s instead of 22.2 / 21.7 s (side by
        side, alternating)."""
        if pool is None or len(texts) < 2 * BATCH_ROWS:
            return self.predictor.predict(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = [order[j::jobs] for j in range(jobs)]
        got = list(pool.map(self.predictor.predict, [[texts[i] for i in part] for part in parts]))
        first, n = got[0], len(texts)
        probs = np.empty((n, first.role_probs.shape[1]), first.role_probs.dtype)
        salience = np.empty(n, first.salience.dtype)
        embeddings = np.empty((n, first.embeddings.shape[1]), first.embeddings.dtype)
        for part, p in zip(parts, got, strict=True):
            probs[part], salience[part], embeddings[part] = p.role_probs, p.salience, p.embeddings
        return Predictions(probs, salience, embeddings)

    def _computed_elsewhere(
        self, prepared: list[_Prepared], args: tuple[Any, ...]
    ) -> Iterator[_Computed | str | None]:
        """Per note of pass 2, in order: what a worker process worked out for it (`_Computed`),
        "retry" when the note changed since pass 1, or None: work it out here.

        Pass 2 is a writer (this process: the state db, the title index, every file written)
        and the work before writing (connections, distillation, rendering: half of pass 2),
        which needs nothing the writer changes but the titles; forked workers do that part
        while this process writes. A worker's note whose titles are no longer free, or that
        failed there, is worked out here again, so the files are those of a run without
        workers. Only packed (vault-sized) runs on Linux, with cores to spare, and not from a
        process running other threads (the daemon), where fork is unsafe."""
        global _FORKED
        workers = distill_workers()
        if (
            workers < 1
            or len(prepared) < _PARALLEL_MIN
            or any(p.packed is None for p in prepared)
            # Linux only: on macOS a forked child must not call into Accelerate (numpy's
            # BLAS there) or other system libraries a parent thread has started.
            or not sys.platform.startswith("linux")
            or not _fork_is_safe()
        ):
            yield from repeat(None, len(prepared))
            return
        _FORKED = (self, prepared, args)
        chunks = [
            list(range(a, min(a + _WORKER_CHUNK, len(prepared))))
            for a in range(0, len(prepared), _WORKER_CHUNK)
        ]
        given = 0
        pool: ProcessPoolExecutor | None = None
        try:
            pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_start
            )
            ahead: deque[Future[list[_Computed | str | None]]] = deque()
            for chunk in chunks:
                ahead.append(pool.submit(_worker_compute, chunk))
                # A few chunks ahead keep the workers busy without holding a vault's worth of
                # rendered notes in memory while the writer catches up.
                if len(ahead) > 2 * workers:
                    got = ahead.popleft().result()
                    given += len(got)
                    yield from got
            while ahead:
                got = ahead.popleft().result()
                given += len(got)
                yield from got
        except Exception as exc:  # noqa: BLE001 - the writer can always do the work itself
            # No worker processes here (a sandbox, no /dev/shm), a killed worker, a result
            # that did not come back: the rest is worked out in this process.
            log.info("distilling in this process only (%s: %s)", type(exc).__name__, exc)
            yield from repeat(None, len(prepared) - given)
        finally:
            _FORKED = None
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _taken_titles(self, rel: str) -> _AskedTitleKeys:
        return self._titles.taken(_stem(o.path) for o in self.db.outputs(rel))

    def _finish(
        self, p: _Prepared, writer: VaultWriter, inline: bool, block_refs: bool, mode: str,
        index: VectorIndex, memo: Neighbours, reports: bool = True,
    ) -> NoteResult:
        c = self._compute(p, inline, block_refs, index, memo, reports)
        # Re-read just before writing: Obsidian may have saved the note since we read it.
        if read_bytes(vault_path(self.root, p.rel)) != p.data:
            return self._retry(p, c.report)
        return self._commit(p, c, p.data, writer, mode)

    def _compute(
        self, p: _Prepared, inline: bool, block_refs: bool, index: VectorIndex,
        memo: Neighbours, reports: bool,
    ) -> _Computed:
        """Pass 2 up to the writing: the distillation, its files and the source's new bytes.
        Reads the state db but writes nothing, so a worker may do it (`_computed_elsewhere`)."""
        assert p.preds is not None
        config = replace(self.config, inline=inline, block_refs=block_refs)
        connections = self._connections(p.rel, config, index, memo)
        preds = note_in_context(
            p.note, [s.text for s in p.sentences], p.preds, self._context, self._paper_context
        )
        taken = self._taken_titles(p.rel)
        d = distill_note(p.note, p.sentences, preds, config, connections, taken_titles=taken)
        warn = ""
        if p.note.frontmatter_error:
            warn = f" (frontmatter is not valid YAML, distilled from the text: " \
                   f"{p.note.frontmatter_error}; fix the YAML, vaultkd never rewrites it)"
        files: list[OutputFile] = []
        if not d.too_short:
            version = self.predictor.version
            rendered = [render_distillation(d, p.note, config, version, self.graph)]
            rendered += render_atomic(d, p.note, config, version, self.graph)
            files = [_output_file(r) for r in rendered]
        new_data, edit_problem = self._source_edit(p, d, inline, block_refs)
        edits = new_data != p.data
        return _Computed(
            files=files,
            new_data=new_data if edits else None,
            edit_problem=edit_problem,
            warn=warn,
            too_short=d.too_short,
            reason=d.reason,
            counts=(
                f"{len(d.claims)} claims, {len(d.questions)} questions, "
                f"{len(d.decisions)} decisions, {len(d.actions)} actions, "
                f"{len(d.atomic)} atomic"
            ),
            report=to_report(d, config) if reports else None,
            sentences=len(p.sentences),
            titles=taken.asked,
            preds=p.preds if edits else None,
        )

    def _commit(
        self, p: _Prepared, c: _Computed, data: bytes, writer: VaultWriter, mode: str
    ) -> NoteResult:
        """Write what `_compute` worked out for a note whose bytes on disk are `data`."""
        version = self.predictor.version
        new_data = c.new_data if c.new_data is not None else data
        edited = False
        final_hash = short_hash(new_data)
        if c.new_data is not None and not writer.dry_run:
            assert c.preds is not None
            # Cache the predictions under the edited bytes first: a run killed right after the
            # edit then resumes from the same predictions (same ids, same titles).
            with self.db.transaction():
                self.db.set_prediction(
                    p.rel, version, final_hash, self._index[p.rel],
                    (c.preds.role_probs, c.preds.salience, c.preds.embeddings),
                )
        try:
            if c.new_data is not None:
                edited = writer.edit_source(p.rel, data, new_data)
        except ChangedOnDisk:
            return self._retry(p, c.report)
        wr = writer.write_outputs(p.rel, c.files, model=version, source_hash=final_hash)
        if wr.retry:
            status = "retry"
        elif wr.errors:
            status = "error"
        elif c.too_short:
            status = "too_short"
        elif wr.written or wr.removed or edited:
            status = "written"
        elif wr.kept:
            status = "kept"
        else:
            status = "unchanged"
        written = ([p.rel] if edited else []) + wr.written
        message = _message(p.rel, status, c, wr, edited, writer.dry_run) + c.warn
        if c.edit_problem:
            message += f" ({c.edit_problem})"
        if c.report is not None:
            c.report.update(
                {"status": status, "written": written, "kept": wr.kept, "removed": wr.removed}
            )
        if not writer.dry_run:
            self._after_write(p, status, message, new_data, edited, final_hash, mode, wr)
        elif status != "retry":
            self._track_titles(wr)  # the run's own copy of the index (see `distill`)
        result = NoteResult(p.rel, status, written, wr.kept, message, c.report)
        result.sentences = c.sentences
        return result

    def _connections(
        self, rel: str, config: Config, index: VectorIndex, memo: Neighbours
    ) -> list[Connection]:
        generated = (f"{config.distilled_folder}/", f"{config.atomic_folder}/")
        return find_connections(
            rel, self._index.get(rel), index, self.graph, config.connections,
            generated=generated, memo=memo,
        )

    def _source_edit(
        self, p: _Prepared, d: Distillation, inline: bool, block_refs: bool
    ) -> tuple[bytes, str]:
        """The source's new bytes under --block-refs / --inline (unchanged otherwise)."""
        if d.too_short or not (inline or (block_refs and d.new_block_ids)):
            return p.data, ""
        if not round_trips(p.note, p.data):
            return p.data, "source left untouched: its bytes do not round-trip as UTF-8"
        note, dist = p.note, d
        if block_refs and d.new_block_ids:
            text = append_block_ids(p.note, d.new_block_ids)
            if not inline:
                return note_bytes(p.note, text), ""
            # Inline edits are offsets into the text with ids appended: parse it again and
            # move the distillation onto the new sentences (same texts, shifted offsets).
            note = parse_note(p.rel, note_bytes(p.note, text))
            moved = note_sentences(note)
            if [s.text for s in moved] != [s.sentence.text for s in d.sentences]:
                return note_bytes(p.note, text), "inline layers skipped: sentences moved"
            dist = replace(
                d,
                sentences=tuple(
                    replace(s, sentence=m) for s, m in zip(d.sentences, moved, strict=True)
                ),
            )
        return note_bytes(note, render_inline(note, dist, self.graph)), ""

    def _retry(self, p: _Prepared, report: dict[str, Any] | None = None) -> NoteResult:
        if report is not None:
            report.update({"status": "retry", "written": [], "kept": []})
        return NoteResult(
            p.rel, "retry", message=f"{p.rel}: changed while vaultkd was working; will retry",
            report=report,
        )

    def _after_write(
        self, p: _Prepared, status: str, message: str, new_data: bytes, edited: bool,
        final_hash: str, mode: str, wr: WriteReport,
    ) -> None:
        if status == "retry":
            return  # leave the old state: the note stays pending
        old = self.db.note(p.rel)
        written_hash = full_hash(new_data) if edited else (old.written_hash if old else None)
        with self.db.transaction():
            self.db.set_note(
                NoteState(p.rel, final_hash, self.predictor.version, status, message,
                          written_hash, mode)
            )
        self._track_titles(wr)

    def _track_titles(self, wr: WriteReport) -> None:
        for path in wr.written:
            self._titles.add(_stem(path))
        for path in wr.removed:
            self._titles.remove(_stem(path))

    # -- moves and deletions (the daemon) -------------------------------------------------

    def source_moved(self, old: str, new: str) -> list[str]:
        """`old` was renamed to `new`: its outputs follow, relinked; returns paths written."""
        with self.db.transaction():
            self.db.rename_note(old, new)
        self._index.pop(old, None)
        self.graph.remove_note(old)
        data = read_bytes(vault_path(self.root, new))
        if data is not None:
            try:
                self.graph.update_note(parse_note(new, data))
            except NoteReadError:
                pass
        results = self.distill([new], DistillOptions(force=True))
        return results[0].written

    def source_deleted(self, rel_path: str) -> list[str]:
        """`rel_path` is gone: unedited outputs are removed, edited ones kept as orphaned.

        Returns the paths removed."""
        report = VaultWriter(self.root, self.db).drop_source(rel_path)
        self._index.pop(rel_path, None)
        self.graph.remove_note(rel_path)
        for path in report.removed:
            self._titles.remove(_stem(path))
        return report.removed

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, list[str]]:
        return vault_status(self.root, self.db, self.config, self.predictor.version)


def source_links(root: Path, rel_path: str) -> Note:
    """The graph reader of a distill session: a note vaultkd generated is a node without
    links (connections never pass through generated notes), which spares reading the bulk
    of a distilled vault; any other note is read for its links as usual."""
    if looks_generated(root / rel_path):
        return Note(path=rel_path, text="")
    return read_links(root, rel_path)


def _sources(root: Path, db: StateDB) -> list[str]:
    from vaultkd.vault.scan import scan_vault

    outputs = {o.path for o in db.outputs()}  # one query, not one per file
    out = []
    for f in scan_vault(root):
        if f.kind != "note" or f.path in outputs:
            continue
        if not looks_generated(root / f.path):
            out.append(f.path)
    return out


def _unwritten(root: Path, db: StateDB, config: Config, rel: str, state: NoteState) -> bool:
    """A distilled source whose distillation note was never written and now could be: it was
    blocked by a file of the user's that has since moved (or `distilled_folder` changed).
    A distillation vaultkd wrote and the user deleted stays deleted."""
    if state.status in ("too_short", "error"):
        return False
    target = distilled_path(config, Note(path=rel, text=""))
    recorded = db.output(target)
    if recorded is not None and recorded.source == rel:
        return False
    try:
        return not vault_path(root, target).exists()
    except UnsafePath:
        return False


def _blocked_by(root: Path, db: StateDB, source: str, target: str) -> bool:
    """Whether a file that is neither this source's output nor vaultkd's sits at `target`."""
    recorded = db.output(target)
    if recorded is not None and recorded.source == source:
        return False  # this source's own distillation: no need to read it
    try:
        data = read_bytes(vault_path(root, target))
    except UnsafePath:
        return False
    if data is None:
        return False
    info = inspect(data)
    return info is None or info.source != source_link(source)


def vault_status(
    root: Path, db: StateDB, config: Config, model_version: str
) -> dict[str, list[str]]:
    """Sources and generated notes by state.

    Sources: `distilled` (up to date), `stale` (bytes, model or mode changed since),
    `too_short`, `error`, `never` (not distilled yet). Generated notes: `kept` (the user
    edited it; vaultkd leaves it alone) and `orphaned` (edited, and its source no longer
    produces it or is gone). `blocked`: files of the user's own at the path a source's
    distillation would take (vaultkd never replaces them, so that source gets no
    distillation note until the file is moved or `distilled_folder` changes).
    """
    want_mode = _mode(config.inline, config.block_refs, config.new_tasks)
    out: dict[str, list[str]] = {
        k: []
        for k in (
            "distilled", "stale", "too_short", "error", "never", "kept", "orphaned", "blocked"
        )
    }
    for rel in _sources(root, db):
        state = db.note(rel)
        if state is None or state.status != "too_short":
            target = distilled_path(config, Note(path=rel, text=""))
            if _blocked_by(root, db, rel, target):
                out["blocked"].append(target)
        if state is None:
            out["never"].append(rel)
            continue
        data = read_bytes(root / rel)
        changed = data is None or short_hash(data) != state.source_hash
        if (
            changed or state.model != model_version or state.mode != want_mode
            or _unwritten(root, db, config, rel, state)
        ):
            out["stale"].append(rel)
        elif state.status in ("too_short", "error"):
            out[state.status].append(rel)
        else:
            out["distilled"].append(rel)
    for o in db.outputs():
        current = read_bytes(root / o.path)
        if current is None:
            continue
        if o.status == "orphaned":
            out["orphaned"].append(o.path)
        elif o.status == "kept":
            out["kept"].append(o.path)
        elif full_hash(current) != o.file_hash:
            # Not the bytes vaultkd wrote: edited, unless it still checks out as intact.
            # (Reading every generated note's frontmatter as YAML made `status` take 11.5 s
            # on a distilled 10,000-note vault; hashing the bytes first spares almost all.)
            info = inspect(current)
            if info is None or not info.intact:
                out["kept"].append(o.path)
    return out


def undo_note(vault_root: Path, rel_path: str, *, force: bool = False) -> str:
    """Restore a source note byte for byte to before vaultkd's last edit of it."""
    root = Path(vault_root).resolve()
    db = StateDB(root / STATE_DIR / STATE_DB)
    try:
        return VaultWriter(root, db).undo(rel_path, force=force)
    finally:
        db.close()


_PARALLEL_MIN = CHUNK_NOTES  # below this, pass 2 stays in one process
_WORKER_CHUNK = 32  # notes per task sent to a pass-2 worker
# What a forked pass-2 worker works on: the session, pass 2's notes, `_compute`'s arguments.
_FORKED: tuple[Session, list[_Prepared], tuple[Any, ...]] | None = None


def _clock() -> tuple[float, float, float]:
    """(wall, this process's CPU, its reaped children's CPU) in seconds."""
    t = os.times()
    return time.perf_counter(), t.user + t.system, t.children_user + t.children_system


def distill_workers() -> int:
    """Worker processes for pass 2 beside the writer: one per core, at most 3; none on one
    core, where a worker would only take turns with the writer.

    Not one per further core: the writer spends part of its time waiting for fsync, and a
    worker's share grows with the vault (each note's connections are scored against every
    note). 10,000 synthetic notes on 2 cores, pass 2 with two workers vs one: 37.7 / 40.8 s
    vs 44.9 / 44.0 s (two alternating pairs); at 3,000 notes the same either way (10.8 /
    11.0 s vs 11.0 / 10.4 s)."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(3, cores)


def _fork_is_safe() -> bool:
    """No thread runs but this one and the idle threads of vaultkd's flush pool (idle
    between writes): a forked child then finds no lock held by a thread it lacks."""
    me = threading.current_thread()
    return all(t is me or t.name.startswith("vaultkd-fsync") for t in threading.enumerate())


def _worker_start() -> None:
    assert _FORKED is not None
    # A writer killed with SIGKILL cannot stop its workers: each leaves when its parent goes.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with, args=(parent.sentinel,), name="vaultkd-orphan", daemon=True
        ).start()
    # Ctrl-C reaches the whole process group: the writer handles it, and its workers go
    # when it does.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    session = _FORKED[0]
    # The parent's connection must not be used across fork; a worker only reads.
    session.db = StateDB.reader(session.db.path)


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _worker_compute(rows: list[int]) -> list[_Computed | str | None]:
    assert _FORKED is not None
    session, prepared, args = _FORKED
    out: list[_Computed | str | None] = []
    for r in rows:
        p = prepared[r]
        try:
            if p.packed is not None and not session._unpack(p):
                out.append("retry")
            else:
                c = session._compute(p, *args)
                out.append(c)
                # The writer will most likely write these: the worker's copy of the title
                # index then says what the writer's will say to the next notes.
                for f in c.files:
                    session._titles.add(_stem(f.rel_path))
        except Exception:  # noqa: BLE001 - the parent works it out again and reports it
            out.append(None)
        finally:
            p.release()
    return out


class _TitleIndex:
    """How many notes of the vault carry each title (as `title_key`s), kept current as a run
    writes and removes notes, so a note's new titles are checked against the whole vault
    without listing it."""

    def __init__(self, titles: Iterable[str] = ()) -> None:
        self._counts: Counter[str] = Counter()
        for t in titles:
            self.add(t)

    def add(self, title: str) -> None:
        self._counts[title_key(title)] += 1

    def remove(self, title: str) -> None:
        key = title_key(title)
        if self._counts[key] > 1:
            self._counts[key] -= 1
        else:
            self._counts.pop(key, None)

    def copy(self) -> _TitleIndex:
        twin = _TitleIndex()
        twin._counts = self._counts.copy()
        return twin

    def taken(self, own: Iterable[str]) -> _AskedTitleKeys:
        """Title keys taken for a note whose earlier outputs are titled `own`."""
        return _AskedTitleKeys(self._counts, Counter(title_key(t) for t in own))

    def agrees(self, asked: Mapping[str, tuple[int, bool]]) -> bool:
        """Whether every title key in `asked` is taken now as it was when it was asked."""
        return all((self._counts.get(k, 0) > own) == was for k, (own, was) in asked.items())


class _AskedTitleKeys(VaultTitleKeys):
    """`VaultTitleKeys` that remembers what it told about the vault's titles: a note
    distilled in another process, from a copy of the index, keeps its titles only if the
    index still says the same when the note is written (`_TitleIndex.agrees`); make_title
    would otherwise have chosen differently."""

    def __init__(self, counts: Mapping[str, int], own: Mapping[str, int]) -> None:
        super().__init__(counts, own)
        self.asked: dict[str, tuple[int, bool]] = {}

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or set.__contains__(self, key):
            return isinstance(key, str)
        own = self._own.get(key, 0)
        taken = self._counts.get(key, 0) > own
        self.asked[key] = (own, taken)
        return taken


def _stem(rel_path: str) -> str:
    name = rel_path.rsplit("/", 1)[-1]
    return name[:-3] if name.lower().endswith(".md") else name


def _output_file(r: Rendered) -> OutputFile:
    kind = str((r.frontmatter.get("vaultkd") or {}).get("kind") or "distillation")
    return OutputFile(r.rel_path, kind, r.frontmatter, r.body)


def _message(
    rel: str, status: str, c: _Computed, wr: WriteReport, edited: bool, dry_run: bool
) -> str:
    would = "would write" if dry_run else "wrote"
    if status == "too_short":
        msg = f"{rel}: too short to distil ({c.reason})"
        if wr.removed:
            msg += f"; removed {len(wr.removed)} earlier note(s)"
        return msg
    if status == "retry":
        return f"{rel}: changed while vaultkd was working; will retry"
    if status == "error":
        return f"{rel}: " + "; ".join(wr.errors)
    parts = []
    files = wr.written + ([rel] if edited else [])
    if files:
        parts.append(f"{would} {len(files)} file(s): {', '.join(files[:3])}"
                     + (" …" if len(files) > 3 else ""))
    if wr.unchanged and not files:
        parts.append(f"{len(wr.unchanged)} note(s) already up to date")
    if wr.kept:
        parts.append(f"kept {len(wr.kept)} note(s) you edited or own: {', '.join(wr.kept[:3])}")
    if wr.removed:
        parts.append(f"removed {len(wr.removed)} stale note(s)")
    if wr.orphaned:
        parts.append(f"kept {len(wr.orphaned)} stale note(s) you edited")
    return f"{rel}: {c.counts}; " + "; ".join(parts or ["nothing to write"])
