"""Sentence roles shared by the seed set, the teacher, the student and every evaluation.

Definitions live in ../shared/LABELS.md; the order here is the order of the model's role
outputs and must never change without retraining.
"""

ROLES: tuple[str, ...] = ("claim", "question", "decision", "action", "context")
ROLE_INDEX: dict[str, int] = {name: i for i, name in enumerate(ROLES)}
