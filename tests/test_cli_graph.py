"""`vaultkd graph`: stats, lists, JSON, export and exit codes, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner

from vaultkd.cli import main


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / "Projects").mkdir(parents=True)
    (root / "Home.md").write_text("[[Projects/Apollo]] [[Ghost]] ![[pic.png]]\n")
    (root / "Projects" / "Apollo.md").write_text("[[Home]] [[Ghost#Part]]\n")
    (root / "Alone.md").write_text("nothing\n")
    (root / "pic.png").write_bytes(b"\x89PNG")
    return root


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def test_stats_table(vault: Path) -> None:
    res = run("graph", str(vault))
    assert res.exit_code == 0, res.output
    lines = dict(line.rsplit(None, 1) for line in res.output.splitlines()[:6])
    assert lines == {"notes": "3", "attachments": "1", "links": "4", "embeds": "1",
                     "unresolved targets": "1", "orphans": "1"}
    assert "top hubs" in res.output and "Projects/Apollo.md" in res.output


def test_json(vault: Path) -> None:
    res = run("graph", str(vault), "--json", "--orphans", "--unresolved")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["notes"] == 3 and data["unresolved_targets"] == 1
    assert data["orphan_notes"] == ["Alone.md"]
    assert data["unresolved"] == {"Ghost": ["Home.md", "Projects/Apollo.md"]}


def test_lists(vault: Path) -> None:
    res = run("graph", str(vault), "--orphans")
    assert res.exit_code == 0 and res.output == "Alone.md\n"
    res = run("graph", str(vault), "--unresolved")
    assert res.output == "Ghost\tHome.md, Projects/Apollo.md\n"


@pytest.mark.parametrize("suffix", [".graphml", ".gexf", ".json"])
def test_export(vault: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"graph{suffix}"
    res = run("graph", str(vault), "--export", str(out))
    assert res.exit_code == 0, res.output
    if suffix == ".graphml":
        g = nx.read_graphml(out)
    elif suffix == ".gexf":
        g = nx.read_gexf(out)
    else:
        g = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
    assert g.number_of_nodes() == 5 and g.number_of_edges() == 5


def test_not_a_folder_is_one_line_and_exit_1(tmp_path: Path) -> None:
    res = run("graph", str(tmp_path / "missing"))
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        f"Error: {tmp_path / 'missing'}: not a folder; give the path of your vault's folder"
    ]


def test_unreadable_note_is_reported_and_the_rest_read(vault: Path) -> None:
    (vault / "Broken.md").write_bytes(b"caf\xe9\n")
    res = run("graph", str(vault), "--json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["notes"] == 4 and data["links"] == 4
    assert "error: Broken.md: is not valid UTF-8" in res.stderr


def test_usage_errors_exit_2(vault: Path, tmp_path: Path) -> None:
    assert run("graph").exit_code == 2
    res = run("graph", str(vault), "--export", str(tmp_path / "g.csv"))
    assert res.exit_code == 2 and ".graphml, .gexf or .json" in res.output
