"""Graph benchmark: vaultkd's VaultGraph against obsidiantools on a synthetic vault.

    python bench/graph_bench.py [--notes 10000] [--seed 0] [--vault DIR] [--skip-peer]

Writes the vault with `bench/synth.py` (into a temporary folder unless --vault names one that
already holds notes), builds the link graph with `VaultGraph.build` (fast link reader) and with
`obsidiantools.api.Vault(...).connect()`, and prints one table: wall and CPU time of each, the
ratio, notes, edges, unresolved targets, and how many wikilinks each resolves differently.
A difference is counted per (source note, link target as written); a sample of them, with
which side is right by Obsidian's rules, is printed below the table.
obsidiantools comes with the `bench` extra: `pip install -e ".[bench]"`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import make_vault  # noqa: E402

from vaultkd.vault.graph import VaultGraph  # noqa: E402
from vaultkd.vault.quick import scan_links  # noqa: E402


def _timed(fn):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[:-3] if name.lower().endswith(".md") else name


def compare(root: Path, vg: VaultGraph, peer: object) -> tuple[int, int, Counter[str], list[str]]:
    """(pairs compared, pairs resolved differently, reasons, examples)."""
    md_index: dict[str, Path] = peer.md_file_index  # type: ignore[attr-defined]
    wl_index: dict[str, list[str]] = peer.wikilinks_index  # type: ignore[attr-defined]
    stems = Counter(_stem(p) for p in vg.notes())
    compared = differ = 0
    reasons: Counter[str] = Counter()
    examples: list[str] = []
    for path in vg.notes():
        stem = _stem(path)
        if stems[stem] > 1 or stem not in wl_index:
            continue  # obsidiantools keys notes by name; a shared name is ambiguous there
        note = scan_links(path, (root / path).read_text(encoding="utf-8"))
        ours_targets = {lk.target for lk in note.links if lk.kind == "link" and lk.target}
        for target in sorted(ours_targets | set(wl_index[stem])):
            compared += 1
            res = vg.resolve(target, path)
            ours = res.path if res else None
            hit = md_index.get(target)
            theirs = Path(hit).as_posix() if hit is not None else None
            if ours == theirs:
                continue
            differ += 1
            if target not in wl_index[stem]:
                why = "link the peer does not see (frontmatter property, callout ...)"
            elif target not in ours_targets:
                why = "not a link by Obsidian's rules (code, comment), the peer counts it"
            elif res is not None and res.via == "alias":
                why = "alias (vaultkd resolves, marked via=alias)"
            elif res is not None and "/" in target:
                why = "folder/Note path link (peer: unresolved)"
            elif res is not None and theirs is None:
                why = "case or .md spelling (peer: unresolved)"
            elif res is not None and theirs is not None:
                why = "same name in two folders (different pick)"
            else:
                why = "other"
            reasons[why] += 1
            if reasons[why] <= 2:
                examples.append(f"{path}: [[{target}]] -> vaultkd {ours}, obsidiantools {theirs}")
    return compared, differ, reasons, examples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vault", type=Path, help="reuse or create the synthetic vault here")
    ap.add_argument("--skip-peer", action="store_true", help="time vaultkd only")
    ap.add_argument("--jobs", type=int, default=2, help="also time reading in N processes")
    args = ap.parse_args()

    tmp = None
    if args.vault is None:
        tmp = tempfile.TemporaryDirectory(prefix="vaultkd-bench-")
        root = Path(tmp.name)
    else:
        root = args.vault
    if not any(root.rglob("*.md")):
        _, wall, _ = _timed(lambda: make_vault(root, args.notes, args.seed))
        print(f"wrote {args.notes} notes to {root} in {wall:.1f} s", file=sys.stderr)

    vg, vk_wall, vk_cpu = _timed(lambda: VaultGraph.build(root))
    s = vg.stats()
    rows = [("vaultkd (VaultGraph.build)", vk_wall, vk_cpu, s["notes"], vg.g.number_of_edges(),
             s["unresolved_targets"])]
    if args.jobs > 1:
        # What `vaultkd graph` does: read notes in one process per core. CPU s is this
        # process's only (the workers' time is not counted).
        vg2, wall2, cpu2 = _timed(lambda: VaultGraph.build(root, jobs=args.jobs))
        assert vg2.g.number_of_edges() == vg.g.number_of_edges()
        rows.append((f"vaultkd (VaultGraph.build, jobs={args.jobs})", wall2, cpu2,
                     vg2.stats()["notes"], vg2.g.number_of_edges(),
                     vg2.stats()["unresolved_targets"]))
    diff_line = ""
    if not args.skip_peer:
        import obsidiantools.api as otools

        peer, ot_wall, ot_cpu = _timed(lambda: otools.Vault(root).connect())
        rows.append(("obsidiantools (Vault.connect)", ot_wall, ot_cpu, len(peer.md_file_index),
                     peer.graph.number_of_edges(), len(peer.nonexistent_notes)))
        compared, differ, reasons, examples = compare(root, vg, peer)
        diff_line = f"wikilink targets compared: {compared}, resolved differently: {differ}"

    print("| tool | wall s | CPU s | notes | edges | unresolved targets |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, cpu, notes, edges, unresolved in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {notes} | {edges} | {unresolved} |")
    if not args.skip_peer:
        peer_row = rows[-1]
        print(f"| ratio obsidiantools / vaultkd (one process) | {peer_row[1] / rows[0][1]:.1f}x | "
              f"{peer_row[2] / rows[0][2]:.1f}x | | | |")
        print()
        print(diff_line)
        for why, n in reasons.most_common():
            print(f"  {n:6d}  {why}")
        for ex in examples:
            print(f"  e.g. {ex}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
