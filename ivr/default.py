"""The tree the project ships (``ivr/trees/default.yaml``): the first published version, and the queues the PBX has."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ivr.tree import Tree, load_yaml

DEFAULT_TREE_FILE = Path(__file__).parent / "trees" / "default.yaml"


def default_yaml() -> str:
    return DEFAULT_TREE_FILE.read_text(encoding="utf-8")


@cache
def default_tree() -> Tree:
    return load_yaml(default_yaml())
