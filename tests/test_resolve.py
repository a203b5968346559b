"""Link resolution: exact path, case, same-name tie-break, aliases, attachments, hostile paths."""

from __future__ import annotations

import pytest

from vaultkd.vault.resolve import FileIndex, Resolution


@pytest.fixture
def index() -> FileIndex:
    idx = FileIndex()
    for path in [
        "Home.md",
        "Note.md",
        "a/Note.md",
        "a/b/Note.md",
        "zzzz/Note.md",
        "zzzz/deep/Other.md",
        "Projects/Apollo.md",
        "Projects/Plan.md",
        "Archive/Plan.md",
        "Archive/Old/Plan.md",
        "attachments/Diagram.png",
        "attachments/doc.pdf",
        "Café.md",
    ]:
        idx.add(path)
    idx.add("People/Alice Chen.md", aliases=["Alice", "A. Chen"])
    return idx


@pytest.mark.parametrize(
    "target,source,expected",
    [
        ("Projects/Apollo", "Home.md", Resolution("Projects/Apollo.md", "path")),
        ("projects/apollo.MD", "Home.md", Resolution("Projects/Apollo.md", "path")),
        ("Apollo", "Home.md", Resolution("Projects/Apollo.md", "basename")),
        ("APOLLO.md", "Home.md", Resolution("Projects/Apollo.md", "basename")),
        # Root file wins over same-folder file (exact vault path).
        ("Note", "a/Source.md", Resolution("Note.md", "path")),
        ("b/Note", "zzzz/Source.md", Resolution("a/b/Note.md", "basename")),
        # No root file: own folder first, then the shortest path string.
        ("Plan", "Archive/Old/Source.md", Resolution("Archive/Old/Plan.md", "basename")),
        ("Plan", "Archive/Source.md", Resolution("Archive/Plan.md", "basename")),
        ("Plan", "Home.md", Resolution("Archive/Plan.md", "basename")),  # same length: a-z
        ("Plan", "zzzz/deep/Source.md", Resolution("Archive/Plan.md", "basename")),
        ("Old/Plan", "Home.md", Resolution("Archive/Old/Plan.md", "basename")),
        # Aliases come last and are marked.
        ("Alice", "Home.md", Resolution("People/Alice Chen.md", "alias")),
        ("a. chen", "Home.md", Resolution("People/Alice Chen.md", "alias")),
        ("Alice Chen", "Home.md", Resolution("People/Alice Chen.md", "basename")),
        # Attachments need their extension.
        ("Diagram.png", "Home.md", Resolution("attachments/Diagram.png", "basename")),
        ("attachments/doc.pdf", "Home.md", Resolution("attachments/doc.pdf", "path")),
        ("Diagram", "Home.md", None),
        # Same note.
        ("", "a/Note.md", Resolution("a/Note.md", "path")),
        # Relative paths stay relative to the source folder.
        ("./Other", "zzzz/deep/Source.md", Resolution("zzzz/deep/Other.md", "path")),
        ("../Note", "zzzz/deep/Source.md", Resolution("zzzz/Note.md", "path")),
        ("../Missing", "zzzz/deep/Source.md", None),
        ("a/../Home", "x.md", Resolution("Home.md", "path")),
        # Unicode normalisation: NFD in the link, NFC on disk.
        ("Cafe\u0301", "Home.md", Resolution("Café.md", "path")),
    ],
)
def test_resolve(index: FileIndex, target: str, source: str, expected: Resolution | None) -> None:
    assert index.resolve(target, source) == expected


@pytest.mark.parametrize(
    "target",
    ["../Home", "../../etc/passwd", "/etc/passwd", "/Home", "C:/Windows/win.ini", "~/Home",
     "a/../../Home", "..", "Home\x00"],
)
def test_hostile_targets_never_leave_the_vault(index: FileIndex, target: str) -> None:
    assert index.resolve(target, "Note.md") is None


def test_markdown_links_try_the_source_folder_first(index: FileIndex) -> None:
    assert index.resolve("Note.md", "a/Source.md", markdown=True) == Resolution("a/Note.md", "path")
    assert index.resolve("Note.md", "a/Source.md") == Resolution("Note.md", "path")
    assert index.resolve("b/Note.md", "a/S.md", markdown=True) == Resolution("a/b/Note.md", "path")


def test_remove_and_alias_changes(index: FileIndex) -> None:
    index.remove("Note.md")
    assert index.resolve("Note", "a/Source.md") == Resolution("a/Note.md", "basename")
    index.set_aliases("People/Alice Chen.md", ["Ally"])
    assert index.resolve("Alice", "Home.md") is None
    assert index.resolve("Ally", "Home.md") == Resolution("People/Alice Chen.md", "alias")
