"""Versioned schema migrations, one ordered list per backend.

Each step is (version, description, statements). A step runs in one transaction together
with its `schema_version` row, so a failed step leaves the schema at the previous version.
Versions are contiguous from 1; both backends have the same versions with the same meaning
(the table set after version N is the same on both), only the SQL dialect differs.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def check_ordered(steps: list[Migration]) -> list[Migration]:
    for i, m in enumerate(steps, start=1):
        if m.version != i:
            raise AssertionError(f"migration versions must be 1..N in order; step {i} has version {m.version}")
    return steps
