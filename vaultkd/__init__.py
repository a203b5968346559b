"""vaultkd: distill an Obsidian/Markdown vault with a small local student model."""

__version__ = "0.1.0"
